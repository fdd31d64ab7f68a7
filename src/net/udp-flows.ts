/**
 * UDP flows: datagrams grouped by their 4-tuple, as tshark's udp.stream does,
 * with packet and byte counts per direction. The first datagram's sender is the
 * flow's client.
 */
import type { DecodedPacket } from './decode.js';
import { EndsIndex } from './flow-key.js';
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
  /** Every flow by its ends (flow-key.ts): a string of both built and hashed per datagram cost as much as the rest of its accounting. */
  private readonly index = new EndsIndex<UdpFlow>();
  /** Every flow, in order of first datagram. */
  private readonly flows: UdpFlow[] = [];
  private nextId = 1;

  /** Account a UDP datagram; returns its flow and direction (0: from the flow's client). */
  datagram(p: DecodedPacket, ts: number, file: number): { flow: UdpFlow; dir: 0 | 1 } {
    let flow = this.index.find(p);
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
      this.index.add(flow.client, flow.server, flow);
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
