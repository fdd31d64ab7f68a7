/** Builders for hand-made pcap and pcapng bytes in either byte order, for capture tests. */

export class Bytes {
  private parts: Buffer[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  u16(v: number): this {
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v);
    else b.writeUInt32BE(v);
    this.parts.push(b);
    return this;
  }
  u64(v: bigint): this {
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigUInt64LE(v);
    else b.writeBigUInt64BE(v);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  pad4(): this {
    const len = this.length;
    if (len % 4 !== 0) this.parts.push(Buffer.alloc(4 - (len % 4)));
    return this;
  }
  get length(): number {
    return this.parts.reduce((n, b) => n + b.length, 0);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export function block(le: boolean, type: number, body: Buffer): Buffer {
  const padded = new Bytes(le).bytes(body).pad4().done();
  const len = padded.length + 12;
  return new Bytes(le).u32(type).u32(len).bytes(padded).u32(len).done();
}

export function option(le: boolean, code: number, value: Buffer): Buffer {
  return new Bytes(le).u16(code).u16(value.length).bytes(value).pad4().done();
}

/** Options followed by opt_endofopt; nothing at all when there are none. */
export function options(opts: Buffer[]): Buffer {
  return opts.length === 0 ? Buffer.alloc(0) : Buffer.concat([...opts, Buffer.alloc(4)]);
}

export function shb(le: boolean, opts: Buffer[] = []): Buffer {
  return block(
    le,
    0x0a0d0d0a,
    new Bytes(le).u32(0x1a2b3c4d).u16(1).u16(0).u64(0xffffffffffffffffn).bytes(options(opts)).done(),
  );
}

export function idb(le: boolean, linkType: number, snapLen: number, opts: Buffer[] = []): Buffer {
  return block(le, 1, new Bytes(le).u16(linkType).u16(0).u32(snapLen).bytes(options(opts)).done());
}

export interface EpbOptions {
  origLen?: number;
  opts?: Buffer[];
}

/** An Enhanced Packet Block with microsecond (or the interface's) units in ts. */
export function epb(le: boolean, ifId: number, ts: bigint, data: Buffer, o: EpbOptions = {}): Buffer {
  const body = new Bytes(le)
    .u32(ifId)
    .u32(Number(ts >> 32n))
    .u32(Number(ts & 0xffffffffn))
    .u32(data.length)
    .u32(o.origLen ?? data.length)
    .bytes(data)
    .pad4()
    .bytes(options(o.opts ?? []));
  return block(le, 6, body.done());
}

/** A Decryption Secrets Block. */
export function dsb(le: boolean, secretsType: number, secrets: Buffer): Buffer {
  return block(le, 10, new Bytes(le).u32(secretsType).u32(secrets.length).bytes(secrets).pad4().done());
}

export function pcapHeader(le: boolean, magic: number, snapLen: number, network: number): Buffer {
  return new Bytes(le).u32(magic).u16(2).u16(4).u32(0).u32(0).u32(snapLen).u32(network).done();
}

export function pcapRecord(le: boolean, sec: number, frac: number, data: Buffer, origLen = data.length): Buffer {
  return new Bytes(le).u32(sec).u32(frac).u32(data.length).u32(origLen).bytes(data).done();
}

export function pattern(n: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));
}

/** A microsecond pcap of the given packets (time in µs since the epoch, integral). */
export function pcapFile(linkType: number, packets: Array<{ ts: number; data: Buffer; origLen?: number }>): Buffer {
  return Buffer.concat([
    pcapHeader(true, 0xa1b2c3d4, 262144, linkType),
    ...packets.map((p) => pcapRecord(true, Math.floor(p.ts / 1e6), p.ts % 1e6, p.data, p.origLen ?? p.data.length)),
  ]);
}
