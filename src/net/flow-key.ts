/**
 * UDP flows and TCP connections found again from each packet: first by their port pair, a number
 * (a Map lookup on it costs a fraction of building and hashing a string of both ends for every
 * packet), then by both ends compared; by a string of both ends only where one port pair is
 * shared by many pairs of hosts.
 */
import type { DecodedPacket } from './decode.js';

export interface End {
  ip: string;
  port: number;
}

/** How many entries of one port pair are scanned; past it, they are found by endsKey. */
const BUCKET_SCAN = 8;

function portPair(a: number, b: number): number {
  return a < b ? a * 65536 + b : b * 65536 + a;
}

/** Both ends as a string, the same whichever way the packet went. */
function endsKey(aIp: string, aPort: number, bIp: string, bPort: number): string {
  const forward = aIp < bIp || (aIp === bIp && aPort < bPort);
  return forward ? `${aIp}|${aPort}|${bIp}|${bPort}` : `${bIp}|${bPort}|${aIp}|${aPort}`;
}

interface Entry<T> {
  a: End;
  b: End;
  value: T;
}

/** What is between two ends (one value for each pair of ends at a time), found from a packet going either way. */
export class EndsIndex<T> {
  private readonly buckets = new Map<number, Array<Entry<T>> | Map<string, Entry<T>>>();

  find(p: DecodedPacket): T | undefined {
    const bucket = this.buckets.get(portPair(p.srcPort, p.dstPort));
    if (bucket === undefined) return undefined;
    if (!Array.isArray(bucket)) return bucket.get(endsKey(p.srcIp, p.srcPort, p.dstIp, p.dstPort))?.value;
    for (let i = 0; i < bucket.length; i++) {
      const { a, b } = bucket[i];
      if ((a.port === p.srcPort && b.port === p.dstPort && a.ip === p.srcIp && b.ip === p.dstIp)
        || (a.port === p.dstPort && b.port === p.srcPort && a.ip === p.dstIp && b.ip === p.srcIp)) return bucket[i].value;
    }
    return undefined;
  }

  add(a: End, b: End, value: T): void {
    const ports = portPair(a.port, b.port);
    const bucket = this.buckets.get(ports);
    const entry = { a, b, value };
    if (bucket === undefined) this.buckets.set(ports, [entry]);
    else if (!Array.isArray(bucket)) bucket.set(endsKey(a.ip, a.port, b.ip, b.port), entry);
    else if (bucket.length < BUCKET_SCAN) bucket.push(entry);
    else {
      const keyed = new Map<string, Entry<T>>();
      for (const e of [...bucket, entry]) keyed.set(endsKey(e.a.ip, e.a.port, e.b.ip, e.b.port), e);
      this.buckets.set(ports, keyed);
    }
  }

  /** `value`, added with these ends, goes. */
  remove(a: End, b: End, value: T): void {
    const ports = portPair(a.port, b.port);
    const bucket = this.buckets.get(ports);
    if (bucket === undefined) return;
    if (Array.isArray(bucket)) {
      const i = bucket.findIndex((e) => e.value === value);
      if (i >= 0) bucket.splice(i, 1);
      if (bucket.length === 0) this.buckets.delete(ports);
    } else {
      const key = endsKey(a.ip, a.port, b.ip, b.port);
      if (bucket.get(key)?.value === value) bucket.delete(key);
      if (bucket.size === 0) this.buckets.delete(ports);
    }
  }

  clear(): void {
    this.buckets.clear();
  }
}
