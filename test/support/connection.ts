import type { TcpConnection, TcpEndpoint } from '../../src/net/tcp-reassembly.js';

/** The two ends and the start time the dissector tests drive their connections with. */
export const CLIENT: TcpEndpoint = { ip: '10.2.0.11', port: 41000 };
export const SERVER: TcpEndpoint = { ip: '10.2.0.20', port: 8080 };
export const T0 = 1_760_000_000_000_000;

/** A connection as the reassembler hands it to a stream handler, handshake seen, nothing counted yet. */
export function fakeConn(over: Partial<TcpConnection> = {}): TcpConnection {
  return {
    id: 7, client: CLIENT, server: SERVER, roles: 'syn', firstTs: T0, lastTs: T0,
    packets: [0, 0], bytes: [0, 0], gapBytes: [0, 0], rsts: 0, midstream: false,
    reassembledBytes: [0, 0], retransmittedBytes: [0, 0], files: [0], duplicateOf: null, ...over,
  };
}
