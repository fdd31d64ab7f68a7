// pcap-ng-parser 1.0.0 ships no types: just what the cross-check test uses.
declare module 'pcap-ng-parser' {
  import { Transform } from 'node:stream';

  namespace PCAPNGParser {
    interface ParsedPacket {
      interfaceId: number;
      /** Raw 64-bit timestamp halves, in the interface's units (which the parser does not read). */
      timestampHigh: number;
      timestampLow: number;
      data: Buffer;
    }
    interface InterfaceInfo {
      linkType: number;
      snapLen: number;
      name?: string;
    }
  }

  class PCAPNGParser extends Transform {
    constructor();
    readonly interfaces: PCAPNGParser.InterfaceInfo[];
    on(event: 'data', listener: (packet: PCAPNGParser.ParsedPacket) => void): this;
    on(event: 'interface', listener: (info: PCAPNGParser.InterfaceInfo) => void): this;
    on(event: 'close', listener: () => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
  }

  export = PCAPNGParser;
}
