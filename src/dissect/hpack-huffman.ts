/**
 * The static Huffman code of HPACK (RFC 7541 section 5.2 and Appendix B) and a
 * table-driven decoder for it.
 *
 * Decoding walks the code tree one input octet at a time. The tree of the 257
 * symbols (256 octets and EOS) has 256 internal nodes; a node is a decoder
 * state, and DECODE[state * 256 + octet] gives the state after those eight
 * bits, the symbols completed on the way (the shortest code is 5 bits long,
 * so an octet completes at most two), and whether EOS was reached. The table
 * (65536 entries, 256 KiB) is built once, on first use (a few milliseconds),
 * from the code table below;
 * one lookup per octet decodes about twice as fast as walking by nibbles.
 *
 * Section 5.2: a string that contains EOS, or whose padding is longer than 7
 * bits or is not a prefix of EOS (all ones), is a decoding error. The padding
 * is the path from the root to the node where the input ends, so a string is
 * well-formed exactly when it ends on the all-ones path at depth 7 or less
 * (ACCEPT).
 */

/** Appendix B: the code of each symbol (0..255, EOS = 256), aligned to the least significant bit. */
export const HUFFMAN_CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa,
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc,
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7,
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
  0x3fffffff,
];

/** Appendix B: the length in bits of each symbol's code. */
export const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

export const EOS = 256;

/** Entry layout: next state in bits 0..7, symbols completed in bits 8..9, EOS in bit 10, symbols in bits 16..23 and 24..31. */
const COUNT_SHIFT = 8;
const FAIL = 1 << 10;

/** A decoded string is well-formed only when it ends in one of these states (padding of 0..7 one bits). */
const ACCEPT = new Uint8Array(256);
/** state << 8 | octet -> the entry above. */
const DECODE = new Uint32Array(256 * 256);

let built = false;

function build(): void {
  built = true;
  // child[2 * node + bit]: > 0 an internal node, < 0 the leaf of symbol -child - 1; 0 = not yet made
  // (the root, node 0, is nobody's child).
  const child = new Int32Array(2 * 256);
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym];
    const len = HUFFMAN_LENGTHS[sym];
    let node = 0;
    for (let i = len - 1; i > 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (child[slot] === 0) {
        if (nodes >= 256) throw new Error('HPACK Huffman table: too many internal nodes');
        child[slot] = nodes++;
      }
      node = child[slot];
      if (node < 0) throw new Error('HPACK Huffman table: not a prefix code');
    }
    const slot = 2 * node + (code & 1);
    if (child[slot] !== 0) throw new Error('HPACK Huffman table: not a prefix code');
    child[slot] = -sym - 1;
  }
  if (nodes !== 256) throw new Error('HPACK Huffman table: incomplete code');

  // The all-ones path from the root: the padding allowed at the end of a string.
  let node = 0;
  for (let depth = 0; depth <= 7; depth++) {
    ACCEPT[node] = 1;
    node = child[2 * node + 1];
  }

  for (let state = 0; state < 256; state++) {
    for (let octet = 0; octet < 256; octet++) {
      let node = state;
      let count = 0;
      let syms = 0;
      let fail = false;
      for (let bit = 7; bit >= 0; bit--) {
        const next = child[2 * node + ((octet >>> bit) & 1)];
        if (next > 0) {
          node = next;
          continue;
        }
        const sym = -next - 1;
        if (sym === EOS) {
          fail = true;
          break;
        }
        syms |= sym << (16 + 8 * count);
        count++;
        node = 0;
      }
      DECODE[(state << 8) | octet] = fail ? FAIL : (syms | (count << COUNT_SHIFT) | node) >>> 0;
    }
  }
}

/** huffmanDecode's results below zero. */
export const HUFFMAN_EOS = -1;
export const HUFFMAN_BAD_PADDING = -2;

/** The most octets `n` Huffman-coded octets can decode to (the shortest code is 5 bits). */
export function huffmanDecodedMax(n: number): number {
  return Math.floor((n * 8) / 5);
}

/**
 * Decodes src[start, end) into out (which must hold huffmanDecodedMax(end - start)
 * octets). Returns the number of octets written, or HUFFMAN_EOS / HUFFMAN_BAD_PADDING.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  if (!built) build();
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const e = DECODE[(state << 8) | src[i]];
    const count = (e >>> COUNT_SHIFT) & 7;
    if (count !== 0) {
      if (count > 2) return HUFFMAN_EOS;
      out[n++] = (e >>> 16) & 0xff;
      if (count === 2) out[n++] = e >>> 24;
    }
    state = e & 0xff;
  }
  return ACCEPT[state] === 1 ? n : HUFFMAN_BAD_PADDING;
}

/** The length in octets of the Huffman coding of the given octets. */
export function huffmanEncodedLength(octets: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < octets.length; i++) bits += HUFFMAN_LENGTHS[octets[i]];
  return (bits + 7) >>> 3;
}

/** Huffman-codes octets, padding the last octet with the most significant bits of EOS (ones). */
export function huffmanEncode(octets: Uint8Array): Buffer {
  const out = Buffer.alloc(huffmanEncodedLength(octets));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < octets.length; i++) {
    const len = HUFFMAN_LENGTHS[octets[i]];
    const code = HUFFMAN_CODES[octets[i]];
    // At most 7 bits wait in acc, and a code has at most 30: feed it in two halves to stay within 32 bits.
    for (let rest = len; rest > 0; ) {
      const take = rest > 16 ? rest - 16 : rest;
      rest -= take;
      acc = (acc << take) | ((code >>> rest) & ((1 << take) - 1));
      bits += take;
      while (bits >= 8) {
        bits -= 8;
        out[o++] = (acc >>> bits) & 0xff;
      }
      acc &= (1 << bits) - 1;
    }
  }
  if (bits > 0) out[o++] = ((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff;
  return out;
}
