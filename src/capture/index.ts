/** capture/'s public surface: list a snapshot's sources, read them as one time-ordered packet stream. */
export { listCaptureSources, type CaptureSourceList, type SkippedInput } from './list.js';
export { readCaptures, type ReadCapturesOptions } from './merge.js';
export { fileSource, readLocation, type CaptureSource, type FileLocation, type TarMemberLocation } from './source.js';
export { readCaptureFile } from './open.js';
export {
  CaptureError,
  type CaptureFileReport,
  type CaptureInterface,
  type CaptureSection,
  type DecryptionSecret,
  type LinkTypeCount,
  type Packet,
  type PacketComment,
  type PacketSink,
} from './packet.js';
