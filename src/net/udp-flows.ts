/**
 * UDP flows: datagrams grouped by their 4-tuple, as tshark's udp.stream does,
 * with packet and byte counts per direction. The first datagram's sender is the
 * flow's client.
 */
import type { DecodedPacket } from './decode.js';
import { BUCKET_SCAN, between, endsKey, portPair } from './flow-key.js';
import type { TcpEndpoint } from './tcp-reassembly.js';

export interface UdpFlow {
  /** 1-based, in order of first datagram. */
  readonly id: number;
  readonly client: TcpEndpoint;
  readonly server: TcpEndpoint;
  readonly firstTs: number;
  lastTs: number;
  readonly packets: [number, number];
  readonly bytes: [number, number];
  readonly files: number[];
}

/** The flows of one port pair (flow-key.ts): an array to scan, or keyed by both ends. */
type Bucket = UdpFlow[] | Map<string, UdpFlow>;

export class UdpFlowTable {
  /** By port pair: a string of both ends built and hashed for every datagram cost as much as the rest of its accounting. */
  private readonly buckets = new Map<number, Bucket>();
  /** Every flow, in order of first datagram. */
  private readonly flows: UdpFlow[] = [];
  private nextId = 1;

  /** Account a UDP datagram; returns its flow and direction (0: from the flow's client). */
  datagram(p: DecodedPacket, ts: number, file: number): { flow: UdpFlow; dir: 0 | 1 } {
    const key = portPair(p);
    let bucket = this.buckets.get(key);
    let flow: UdpFlow | undefined;
    if (Array.isArray(bucket)) {
      for (let i = 0; i < bucket.length && !flow; i++) if (between(bucket[i].client, bucket[i].server, p)) flow = bucket[i];
    } else if (bucket) flow = bucket.get(endsKey(p.srcIp, p.srcPort, p.dstIp, p.dstPort));
    if (!flow) {
      flow = {
        id: this.nextId++,
        client: { ip: p.srcIp, port: p.srcPort },
        server: { ip: p.dstIp, port: p.dstPort },
        firstTs: ts,
        lastTs: ts,
        packets: [0, 0],
        bytes: [0, 0],
        files: [file],
      };
      this.flows.push(flow);
      if (!bucket) this.buckets.set(key, (bucket = []));
      if (Array.isArray(bucket) && bucket.length >= BUCKET_SCAN) {
        const keyed = new Map<string, UdpFlow>();
        for (const f of bucket) keyed.set(endsKey(f.client.ip, f.client.port, f.server.ip, f.server.port), f);
        this.buckets.set(key, (bucket = keyed));
      }
      if (Array.isArray(bucket)) bucket.push(flow);
      else bucket.set(endsKey(p.srcIp, p.srcPort, p.dstIp, p.dstPort), flow);
    }
    const dir = p.srcPort === flow.client.port && p.srcIp === flow.client.ip ? 0 : 1;
    flow.lastTs = ts;
    flow.packets[dir]++;
    flow.bytes[dir] += p.payload.length;
    if (!flow.files.includes(file)) flow.files.push(file);
    return { flow, dir };
  }

  get size(): number {
    return this.flows.length;
  }

  all(): IterableIterator<UdpFlow> {
    return this.flows.values();
  }
}
