/**
 * A schema-less protobuf decoder for display and filtering: what `protoc
 * --decode_raw` does, plus a best guess at what each length-delimited field
 * holds. Hand-written so that it is tolerant (never throws, returns what it
 * decoded before the first structural error), bounded (nesting depth, number
 * of output fields) and fast (plain loops over the buffer; 64-bit varints are
 * read as two 32-bit halves, BigInt only to print values beyond 2^53).
 *
 * Guessing rules for a 'len' field, in order (see guessLen):
 * 1. empty → string "" (as protoc --decode_raw shows it; an empty string and
 *    an empty sub-message are the same bytes);
 * 2. a nested message when the bytes parse completely as one: every tag
 *    valid, field numbers 1..2^29-1 outside the reserved 19000..19999, groups
 *    balanced, no overrun, nothing left over — unless the bytes are also
 *    valid UTF-8 without a single control character and the message would
 *    hold only scalar fields: short words like "hi" parse as {13: 105}, and
 *    text is far likelier than such a message. A flat scan that allocates
 *    nothing decides this; only accepted messages are parsed into fields.
 *    Past maxDepth, a well-formed message is shown as bytes (never as text or
 *    numbers);
 * 3. UTF-8 text when valid and mostly printable (at most 1 byte in 10 a
 *    control character other than tab, CR, LF);
 * 4. packed varints when the bytes are a whole number of canonical varints
 *    (no redundant trailing 0x80…0x00 groups, at most 64 bits each);
 * 5. bytes (base64).
 */

export type WireType = 'varint' | 'i64' | 'len' | 'i32' | 'group';

export interface ProtoField {
  field: number;
  wireType: WireType;
  /**
   * A display string. varint: the integer (unsigned, or signed 64-bit when the
   * top bit is set, as negative int32/int64 are encoded) plus the zigzag
   * (sint32/sint64) reading when it differs, e.g. "3 (zigzag -2)",
   * "-1 (uint64 18446744073709551615, zigzag -9223372036854775808)".
   * i32/i64: the unsigned integer (fixed32/fixed64), the signed reading when
   * the top bit is set (sfixed32/sfixed64), and the float/double reading, e.g.
   * "1069547520 (float 1.5)", "4294967291 (int32 -5, float NaN)". len: the text for a string, the base64 for
   * bytes, the numbers comma-separated for packed, "message (N fields, L bytes)"
   * for a message. group: "group (N fields)".
   */
  value: string;
  /**
   * varint, i32, i64: the reading schemalessToJson uses — the integer (signed
   * for a varint, unsigned for i32/i64) as a number when it is a safe integer,
   * else a decimal string; for i32/i64 the
   * float/double reading instead when that one looks like a real number
   * (finite, 1e-7 ≤ |x| < 1e15) and the integer does not look small.
   */
  scalar?: number | string;
  /** For 'len' fields, the best guess: a nested message (when the bytes parse completely as one, with sane field numbers), else UTF-8 text (when valid and mostly printable), else packed varints (when they parse exactly), else bytes (base64). Groups: 'message', or 'bytes' beyond maxDepth. */
  as?: 'message' | 'string' | 'packed' | 'bytes';
  message?: ProtoField[];
  text?: string;
  /** Packed varints as decimal strings (the same reading as a varint's integer). */
  packed?: string[];
  bytes?: string; // base64
}

export interface SchemalessOptions {
  /** How many levels of nested messages below the top one are guessed (default 16); deeper 'len' fields are text or bytes. */
  maxDepth?: number;
  /** At most this many fields (and packed elements) in all (default 10,000); decoding stops with an error past it. */
  maxFields?: number;
}

const MAX_FIELD = 0x1fffffff;
const TWO32 = 4294967296;

interface Ctx {
  buf: Buffer;
  maxDepth: number;
  maxFields: number;
  count: number;
  limited: boolean;
  /** Set by the varint readers: the high 32 bits of the last varint read. */
  hi: number;
  /** Position after the last varint read, or -1 when it was truncated, -2 when longer than 10 bytes / 64 bits. */
  pos: number;
  /** Non-canonical: the last varint ended with a redundant zero group. */
  redundant: boolean;
}

interface Parsed {
  fields: ProtoField[];
  pos: number;
  error: string | null;
}

function bound(v: number | undefined, dflt: number): number {
  return typeof v === 'number' && !Number.isNaN(v) ? Math.max(0, Math.floor(v)) : dflt;
}

/** Never throws. `fields` holds everything decoded before `error`. */
export function decodeSchemaless(buf: Buffer, opts: SchemalessOptions = {}): { fields: ProtoField[]; error: string | null } {
  if (!Buffer.isBuffer(buf)) {
    const u = buf as unknown;
    if (!(u instanceof Uint8Array)) return { fields: [], error: 'not a buffer' };
    buf = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  }
  const ctx: Ctx = {
    buf,
    maxDepth: bound(opts.maxDepth, 16),
    maxFields: bound(opts.maxFields, 10_000),
    count: 0,
    limited: false,
    hi: 0,
    pos: 0,
    redundant: false,
  };
  try {
    const r = parseMessage(ctx, 0, buf.length, 0, -1);
    let error = r.error;
    if (ctx.limited && error === null) error = `stopped after ${ctx.maxFields} fields (maxFields)`;
    return { fields: r.fields, error };
  } catch (e) {
    // Not expected; the decoder is meant to be total. Still never throw.
    return { fields: [], error: `internal error: ${(e as Error)?.message ?? String(e)}` };
  }
}

/**
 * Reads a varint at `pos`, returning its low 32 bits (unsigned); the high 32
 * bits go to ctx.hi and the position after it to ctx.pos (-1 truncated,
 * -2 too long).
 */
function readVarint(ctx: Ctx, pos: number, end: number): number {
  const buf = ctx.buf;
  let lo = 0;
  let hi = 0;
  let b = 0;
  let i = 0;
  ctx.redundant = false;
  // bytes 0..3: bits 0..27
  for (; i < 4; i++) {
    if (pos >= end) { ctx.pos = -1; return 0; }
    b = buf[pos++];
    lo |= (b & 0x7f) << (7 * i);
    if (b < 0x80) {
      ctx.redundant = i > 0 && b === 0;
      ctx.hi = 0; ctx.pos = pos; return lo >>> 0;
    }
  }
  // byte 4: bits 28..34
  if (pos >= end) { ctx.pos = -1; return 0; }
  b = buf[pos++];
  lo |= (b & 0x0f) << 28;
  hi = (b & 0x7f) >>> 4;
  if (b < 0x80) {
    ctx.redundant = b === 0;
    ctx.hi = hi; ctx.pos = pos; return lo >>> 0;
  }
  // bytes 5..9: bits 35..63
  for (i = 0; i < 5; i++) {
    if (pos >= end) { ctx.pos = -1; return 0; }
    b = buf[pos++];
    hi |= (b & 0x7f) << (7 * i + 3);
    if (b < 0x80) {
      if (i === 4 && b > 1) { ctx.pos = -2; return 0; } // more than 64 bits
      ctx.redundant = b === 0;
      ctx.hi = hi >>> 0; ctx.pos = pos; return lo >>> 0;
    }
  }
  ctx.pos = -2;
  return 0;
}

/** Unsigned 64-bit (hi, lo) as a decimal string. */
function u64(hi: number, lo: number): string {
  if (hi === 0) return String(lo);
  if (hi < 0x200000) return String(hi * TWO32 + lo);
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

/** Unsigned 64-bit (hi, lo) as a number when safe, else a decimal string. */
function u64n(hi: number, lo: number): number | string {
  return hi < 0x200000 ? hi * TWO32 + lo : u64(hi, lo);
}

/** Two's complement negation of (hi, lo) → magnitude, for hi ≥ 2^31. */
function neg64(hi: number, lo: number): [number, number] {
  const nlo = (~lo + 1) >>> 0;
  const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
  return [nhi, nlo];
}

/** The signed 64-bit reading of (hi, lo): as a number when safe, else a decimal string. */
function s64n(hi: number, lo: number): number | string {
  if (hi < 0x80000000) return u64n(hi, lo);
  const [nhi, nlo] = neg64(hi, lo);
  const m = u64n(nhi, nlo);
  return typeof m === 'number' ? -m : '-' + m;
}

/** The zigzag (sint) reading of unsigned (hi, lo). */
function zigzag(hi: number, lo: number): number | string {
  const shi = hi >>> 1;
  const slo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
  if ((lo & 1) === 0) return u64n(shi, slo);
  // -(shifted + 1)
  if (shi < 0x200000) return -(shi * TWO32 + slo + 1);
  return '-' + (((BigInt(shi) << 32n) | BigInt(slo)) + 1n).toString();
}

function varintField(field: number, hi: number, lo: number): ProtoField {
  const scalar = s64n(hi, lo);
  const zz = zigzag(hi, lo);
  let value: string;
  if (hi >= 0x80000000) value = `${scalar} (uint64 ${u64(hi, lo)}, zigzag ${zz})`;
  else if (zz !== scalar) value = `${scalar} (zigzag ${zz})`;
  else value = String(scalar);
  return { field, wireType: 'varint', value, scalar };
}

const f32 = new Float32Array(1);
const f32u = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1);
const f64u = new Uint32Array(f64.buffer); // little-endian platforms: [lo, hi]
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The shortest decimal that reads back as the same float32. Rounding to 6
 * digits first is enough: a shorter decimal that reads back lies within half
 * a float32 ulp (~6e-8 relative) of x, well inside half a 6-digit step, so
 * rounding to 6 digits lands on it (and Number() drops the trailing zeros).
 */
function float32String(x: number): string {
  if (!Number.isFinite(x) || x === 0) return String(x);
  for (let p = 6; p < 9; p++) {
    const s = Number(x.toPrecision(p));
    if (Math.fround(s) === x) return String(s);
  }
  return String(Number(x.toPrecision(9)));
}

function looksReal(x: number): boolean {
  const a = Math.abs(x);
  return Number.isFinite(x) && a >= 1e-7 && a < 1e15;
}

function i32Field(field: number, u: number): ProtoField {
  f32u[0] = u;
  const fl = f32[0];
  const signed = u | 0;
  const fs = float32String(fl);
  const value = signed < 0 ? `${u} (int32 ${signed}, float ${fs})` : `${u} (float ${fs})`;
  // An integer below 2^20 in magnitude is far likelier a fixed32 than a float
  // (whose bit patterns for ordinary values are all above 2^23).
  const scalar = looksReal(fl) && Math.abs(signed) >= 0x100000 ? Number(fs) : u;
  return { field, wireType: 'i32', value, scalar };
}

function i64Field(field: number, hi: number, lo: number): ProtoField {
  if (LE) { f64u[0] = lo; f64u[1] = hi; } else { f64u[0] = hi; f64u[1] = lo; }
  const d = f64[0];
  const unsigned = u64n(hi, lo);
  const value = hi >= 0x80000000 ? `${unsigned} (int64 ${s64n(hi, lo)}, double ${d})` : `${unsigned} (double ${d})`;
  const small = hi < 0x100000 || hi >= 0xfff00000; // |int64| < 2^52
  const scalar = looksReal(d) && !small ? d : unsigned;
  return { field, wireType: 'i64', value, scalar };
}

function wireError(what: string, at: number): string {
  return `${what} at offset ${at}`;
}

/**
 * Parses fields in [start, end). `group` ≥ 0: a group's body, ended by an
 * end-group tag for that field. On a structural error, the error is recorded
 * and the fields decoded before it returned. (Nested 'len' fields are checked
 * with messageShape before they are parsed, so they do not fail here.)
 */
function parseMessage(ctx: Ctx, start: number, end: number, depth: number, group: number): Parsed {
  const buf = ctx.buf;
  const fields: ProtoField[] = [];
  let pos = start;
  const fail = (error: string): Parsed => ({ fields, pos, error });
  while (pos < end) {
    if (ctx.count >= ctx.maxFields) { ctx.limited = true; return { fields, pos, error: null }; }
    const tagAt = pos;
    const tag = readVarint(ctx, pos, end);
    if (ctx.pos < 0) return fail(wireError(ctx.pos === -1 ? 'truncated tag' : 'over-long tag', tagAt));
    if (ctx.hi !== 0) return fail(wireError('tag beyond 32 bits', tagAt));
    pos = ctx.pos;
    const wt = tag & 7;
    const field = tag >>> 3;
    if (field === 0) return fail(wireError('field number 0', tagAt));
    switch (wt) {
      case 0: {
        const lo = readVarint(ctx, pos, end);
        if (ctx.pos < 0) return fail(wireError(`${ctx.pos === -1 ? 'truncated' : 'over-long'} varint for field ${field}`, pos));
        pos = ctx.pos;
        fields.push(varintField(field, ctx.hi, lo));
        ctx.count++;
        break;
      }
      case 1: {
        if (end - pos < 8) return fail(wireError(`truncated 64-bit value for field ${field} (${end - pos} of 8 bytes)`, pos));
        const lo = buf.readUInt32LE(pos);
        const hi = buf.readUInt32LE(pos + 4);
        pos += 8;
        fields.push(i64Field(field, hi, lo));
        ctx.count++;
        break;
      }
      case 5: {
        if (end - pos < 4) return fail(wireError(`truncated 32-bit value for field ${field} (${end - pos} of 4 bytes)`, pos));
        fields.push(i32Field(field, buf.readUInt32LE(pos)));
        pos += 4;
        ctx.count++;
        break;
      }
      case 2: {
        const lenAt = pos;
        const len = readVarint(ctx, pos, end);
        if (ctx.pos < 0) return fail(wireError(`${ctx.pos === -1 ? 'truncated' : 'over-long'} length for field ${field}`, lenAt));
        pos = ctx.pos;
        if (ctx.hi !== 0 || len > end - pos) {
          return fail(wireError(`length ${u64(ctx.hi, len)} of field ${field} overruns the ${group >= 0 || depth > 0 ? 'message' : 'buffer'} (${end - pos} bytes left)`, lenAt));
        }
        ctx.count++;
        fields.push(guessLen(ctx, field, pos, pos + len, depth));
        pos += len;
        break;
      }
      case 3: {
        ctx.count++;
        if (depth >= ctx.maxDepth) {
          const after = skipGroup(ctx, pos, end, field);
          if (after < 0) return fail(wireError(`unterminated group ${field}`, tagAt));
          const bytes = buf.toString('base64', pos, ctx.pos);
          fields.push({ field, wireType: 'group', value: bytes, as: 'bytes', bytes });
          pos = after;
          break;
        }
        const sub = parseMessage(ctx, pos, end, depth + 1, field);
        if (sub.error !== null) {
          fields.push({ field, wireType: 'group', value: `group (${sub.fields.length} fields)`, as: 'message', message: sub.fields });
          return { fields, pos: sub.pos, error: sub.error };
        }
        fields.push({ field, wireType: 'group', value: `group (${sub.fields.length} fields)`, as: 'message', message: sub.fields });
        pos = sub.pos;
        if (ctx.limited) return { fields, pos, error: null };
        break;
      }
      case 4: {
        if (group === field) return { fields, pos, error: null };
        return fail(wireError(group >= 0 ? `end of group ${field} inside group ${group}` : `end of group ${field} without a start`, tagAt));
      }
      default:
        return fail(wireError(`invalid wire type ${wt} (field ${field})`, tagAt));
    }
    if (ctx.limited) return { fields, pos, error: null };
  }
  if (group >= 0) return fail(`unterminated group ${group}`);
  return { fields, pos, error: null };
}

/**
 * Skips a group body starting at pos without building output (iterative, so
 * nesting costs no stack). Returns the position after the matching end-group
 * tag and leaves ctx.pos at the start of that tag; -1 when malformed.
 */
function skipGroup(ctx: Ctx, pos: number, end: number, field: number): number {
  const stack: number[] = [field];
  while (pos < end) {
    const tagAt = pos;
    const tag = readVarint(ctx, pos, end);
    if (ctx.pos < 0 || ctx.hi !== 0) return -1;
    pos = ctx.pos;
    const f = tag >>> 3;
    if (f === 0) return -1;
    switch (tag & 7) {
      case 0: readVarint(ctx, pos, end); if (ctx.pos < 0) return -1; pos = ctx.pos; break;
      case 1: if (end - pos < 8) return -1; pos += 8; break;
      case 5: if (end - pos < 4) return -1; pos += 4; break;
      case 2: {
        const len = readVarint(ctx, pos, end);
        if (ctx.pos < 0 || ctx.hi !== 0 || len > end - ctx.pos) return -1;
        pos = ctx.pos + len;
        break;
      }
      case 3: stack.push(f); break;
      case 4:
        if (stack.pop() !== f) return -1;
        if (stack.length === 0) { ctx.pos = tagAt; return pos; }
        break;
      default: return -1;
    }
  }
  return -1;
}

/**
 * Whether [start, end) is a well-formed message, by a flat scan that builds
 * nothing: 'message', 'scalars' (well-formed, but only varint/i32/i64 fields
 * and printable text is the likelier reading), or null.
 */
function messageShape(ctx: Ctx, start: number, end: number): 'message' | 'scalars' | null {
  let pos = start;
  let scalarsOnly = true;
  while (pos < end) {
    const tag = readVarint(ctx, pos, end);
    if (ctx.pos < 0 || ctx.hi !== 0) return null;
    pos = ctx.pos;
    const f = tag >>> 3;
    if (f === 0 || (f >= 19000 && f <= 19999)) return null;
    switch (tag & 7) {
      case 0: readVarint(ctx, pos, end); if (ctx.pos < 0) return null; pos = ctx.pos; break;
      case 1: if (end - pos < 8) return null; pos += 8; break;
      case 5: if (end - pos < 4) return null; pos += 4; break;
      case 2: {
        const len = readVarint(ctx, pos, end);
        if (ctx.pos < 0 || ctx.hi !== 0 || len > end - ctx.pos) return null;
        pos = ctx.pos + len;
        scalarsOnly = false;
        break;
      }
      case 3: {
        const after = skipGroup(ctx, pos, end, f);
        if (after < 0) return null;
        pos = after;
        scalarsOnly = false;
        break;
      }
      default: return null;
    }
  }
  return scalarsOnly ? 'scalars' : 'message';
}

/**
 * -1 when [start, end) is not valid UTF-8 (overlong forms, surrogates and
 * code points past U+10FFFF included), else the number of control characters
 * in it (C0 but tab, LF, CR; DEL; C1).
 */
function textControls(buf: Buffer, start: number, end: number): number {
  let n = 0;
  let i = start;
  while (i < end) {
    const b = buf[i];
    if (b < 0x80) {
      if (b < 0x20) { if (b !== 9 && b !== 10 && b !== 13) n++; }
      else if (b === 0x7f) n++;
      i++;
    } else if (b < 0xc2) {
      return -1; // a continuation byte, or an overlong 2-byte lead
    } else if (b < 0xe0) {
      if (i + 1 >= end) return -1;
      const c = buf[i + 1];
      if ((c & 0xc0) !== 0x80) return -1;
      if (b === 0xc2 && c < 0xa0) n++; // U+0080..U+009F
      i += 2;
    } else if (b < 0xf0) {
      if (i + 2 >= end) return -1;
      const c = buf[i + 1];
      if ((c & 0xc0) !== 0x80 || (buf[i + 2] & 0xc0) !== 0x80) return -1;
      if (b === 0xe0 && c < 0xa0) return -1; // overlong
      if (b === 0xed && c >= 0xa0) return -1; // surrogate
      i += 3;
    } else if (b < 0xf5) {
      if (i + 3 >= end) return -1;
      const c = buf[i + 1];
      if ((c & 0xc0) !== 0x80 || (buf[i + 2] & 0xc0) !== 0x80 || (buf[i + 3] & 0xc0) !== 0x80) return -1;
      if (b === 0xf0 && c < 0x90) return -1; // overlong
      if (b === 0xf4 && c >= 0x90) return -1; // past U+10FFFF
      i += 4;
    } else {
      return -1;
    }
  }
  return n;
}

/** Packed varints over [start, end) when exact and canonical; null otherwise or when over budget. */
function parsePacked(ctx: Ctx, start: number, end: number): string[] | null {
  // Count first, so that nothing is allocated for data that is not packed.
  let n = 0;
  let pos = start;
  while (pos < end) {
    readVarint(ctx, pos, end);
    if (ctx.pos < 0 || ctx.redundant) return null;
    pos = ctx.pos;
    n++;
  }
  if (ctx.count + n > ctx.maxFields) return null;
  const out = new Array<string>(n);
  pos = start;
  for (let i = 0; i < n; i++) {
    const lo = readVarint(ctx, pos, end);
    pos = ctx.pos;
    out[i] = String(s64n(ctx.hi, lo));
  }
  ctx.count += n;
  return out;
}

function guessLen(ctx: Ctx, field: number, start: number, end: number, depth: number): ProtoField {
  const buf = ctx.buf;
  const len = end - start;
  if (len === 0) return { field, wireType: 'len', value: '', as: 'string', text: '' };
  // A flat scan that allocates nothing decides whether the bytes are a
  // message; only then are they parsed (nested fields never fail a parse).
  const shape = messageShape(ctx, start, end);
  const controls = shape === 'message' ? 0 : textControls(buf, start, end); // -1: not UTF-8
  if (shape === 'message' || (shape === 'scalars' && controls !== 0)) {
    if (depth < ctx.maxDepth) {
      const sub = parseMessage(ctx, start, end, depth + 1, -1);
      if (sub.error === null && (sub.fields.length > 0 || ctx.limited)) {
        return { field, wireType: 'len', value: `message (${sub.fields.length} fields, ${len} bytes)`, as: 'message', message: sub.fields };
      }
    }
    // Beyond maxDepth (or, defensively, when the parse disagrees): bytes,
    // rather than letting a well-formed message pass for text or numbers.
    const bytes = buf.toString('base64', start, end);
    return { field, wireType: 'len', value: bytes, as: 'bytes', bytes };
  }
  if (controls >= 0 && controls * 10 <= len) {
    const text = buf.toString('utf8', start, end);
    return { field, wireType: 'len', value: text, as: 'string', text };
  }
  if (depth < ctx.maxDepth) {
    const packed = parsePacked(ctx, start, end);
    if (packed !== null) return { field, wireType: 'len', value: packed.join(','), as: 'packed', packed };
  }
  const bytes = buf.toString('base64', start, end);
  return { field, wireType: 'len', value: bytes, as: 'bytes', bytes };
}

/**
 * A compact JSON rendering keyed by field number, e.g. {"1": "abc", "2": {"1": 42}, "3": [1, 2]}:
 * a field seen more than once becomes an array, packed varints are always an
 * array (concatenated with any other occurrences of the field), nested
 * messages and groups objects, text strings, bytes base64 strings, numbers
 * numbers (decimal strings beyond 2^53).
 */
export function schemalessToJson(fields: ProtoField[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Map<number, { values: unknown[]; array: boolean }>();
  for (const f of fields) {
    let slot = seen.get(f.field);
    if (slot === undefined) { slot = { values: [], array: false }; seen.set(f.field, slot); }
    else slot.array = true;
    switch (f.as) {
      case 'message': slot.values.push(schemalessToJson(f.message ?? [])); break;
      case 'string': slot.values.push(f.text ?? ''); break;
      case 'bytes': slot.values.push(f.bytes ?? ''); break;
      case 'packed':
        slot.array = true;
        for (const p of f.packed ?? []) {
          const n = Number(p);
          slot.values.push(Number.isSafeInteger(n) ? n : p);
        }
        break;
      default: slot.values.push(f.scalar ?? f.value);
    }
  }
  for (const [k, slot] of seen) out[String(k)] = slot.array ? slot.values : slot.values[0];
  return out;
}
