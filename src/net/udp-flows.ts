/**
 * UDP flows: datagrams grouped by their 4-tuple, as tshark's udp.stream does,
 * with packet and byte counts per direction. The first datagram's sender is the
 * flow's client.
 */
import type { DecodedPacket } from './decode.js';
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

export class UdpFlowTable {
  private readonly flows = new Map<string, UdpFlow>();
  private nextId = 1;

  /** Account a UDP datagram; returns its flow and direction (0: from the flow's client). */
  datagram(p: DecodedPacket, ts: number, file: number): { flow: UdpFlow; dir: 0 | 1 } {
    const forward = p.srcIp < p.dstIp || (p.srcIp === p.dstIp && p.srcPort < p.dstPort);
    const key = forward
      ? `${p.srcIp}|${p.srcPort}|${p.dstIp}|${p.dstPort}`
      : `${p.dstIp}|${p.dstPort}|${p.srcIp}|${p.srcPort}`;
    let flow = this.flows.get(key);
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
      this.flows.set(key, flow);
    }
    const dir = p.srcPort === flow.client.port && p.srcIp === flow.client.ip ? 0 : 1;
    flow.lastTs = ts;
    flow.packets[dir]++;
    flow.bytes[dir] += p.payload.length;
    if (!flow.files.includes(file)) flow.files.push(file);
    return { flow, dir };
  }

  get size(): number {
    return this.flows.size;
  }

  all(): IterableIterator<UdpFlow> {
    return this.flows.values();
  }
}
