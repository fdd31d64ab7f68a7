/**
 * What a file is, from its first bytes only (never its name): a capture, gzip, a tar
 * archive, or something else described well enough for a user to see their mistake.
 */

export type DetectedFormat = 'pcap' | 'pcapng' | 'gzip' | 'unknown';

/** Enough bytes to tell every capture format apart. */
export const MAGIC_BYTES = 4;
/** A tar header block; its "ustar" magic sits at offset 257. */
export const TAR_BLOCK = 512;

/** Recognises a capture by its first bytes (at least 4 of them for pcap and pcapng). */
export function detectFormat(firstBytes: Buffer): DetectedFormat {
  if (isGzip(firstBytes)) return 'gzip';
  if (firstBytes.length < MAGIC_BYTES) return 'unknown';
  const m = firstBytes.readUInt32BE(0);
  if (m === 0x0a0d0d0a) return 'pcapng';
  const swapped = firstBytes.readUInt32LE(0);
  for (const magic of [0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34]) {
    if (m === magic || swapped === magic) return 'pcap';
  }
  return 'unknown';
}

export function isGzip(first: Buffer): boolean {
  return first.length >= 3 && first[0] === 0x1f && first[1] === 0x8b && first[2] === 0x08;
}

/** ustar, GNU and pax archives all carry "ustar" at 257 (followed by NUL or a space). */
export function isTar(first: Buffer): boolean {
  return first.length >= 262 && first.toString('latin1', 257, 262) === 'ustar';
}

/** "not a pcap or pcapng file (starts with …)", naming the likely format when it is a common one. */
export function unknownFormat(first: Buffer, len = first.length): string {
  const shown = first.subarray(0, Math.min(len, 8));
  const hex = Array.from(shown, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const more = len > shown.length ? ' …' : '';
  const hint = formatHint(first, len);
  return `not a pcap or pcapng file (starts with ${hex}${more}${hint === null ? '' : `; ${hint}`})`;
}

/** The short reason a file found inside a directory or archive is passed over. */
export function notCaptureReason(first: Buffer): string {
  if (first.length === 0) return 'not a capture: empty file';
  const hint = formatHint(first, first.length);
  if (hint !== null) return `not a capture: ${hint}`;
  const hex = Array.from(first.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `not a capture: unknown format (starts with ${hex})`;
}

function formatHint(first: Buffer, len: number): string | null {
  const sample = first.subarray(0, Math.min(len, 512));
  if (startsWith(first, [0x28, 0xb5, 0x2f, 0xfd])) return 'looks zstd-compressed, only gzip is undone';
  if (startsWith(first, [0xfd, 0x37, 0x7a, 0x58, 0x5a])) return 'looks xz-compressed, only gzip is undone';
  if (startsWith(first, [0x42, 0x5a, 0x68])) return 'looks bzip2-compressed, only gzip is undone';
  if (startsWith(first, [0x50, 0x4b, 0x03, 0x04])) return 'looks like a zip archive';
  if (len >= 262 && isTar(first)) return 'looks like a tar archive';
  if (first.toString('latin1', 0, 5) === 'snoop') return 'looks like a snoop capture, which is not supported';
  if (looksLikeText(sample)) {
    const line = sample.toString('utf8').split(/\r?\n/, 1)[0].slice(0, 40);
    return `looks like text: "${line}"`;
  }
  return null;
}

function startsWith(buf: Buffer, bytes: number[]): boolean {
  return buf.length >= bytes.length && bytes.every((b, i) => buf[i] === b);
}

/** Printable ASCII, whitespace or UTF-8 multibyte sequences only. */
function looksLikeText(sample: Buffer): boolean {
  if (sample.length === 0) return false;
  for (const b of sample) {
    if (b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f) || b >= 0x80) continue;
    return false;
  }
  // Reject byte soup above 0x7f that is not valid UTF-8; a multibyte sequence cut by the
  // end of the sample is not evidence either way, so only look before the last 3 bytes.
  const text = sample.toString('utf8');
  const cut = sample.length >= 512 ? text.slice(0, -3) : text;
  return !cut.includes('\ufffd');
}
