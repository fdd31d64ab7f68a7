import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, type DecodedPacket } from '../src/net/decode.js';
import { TcpReassembler, type CloseReason, type Dir, type StreamHandler, type TcpConnection, type TcpEndpoint } from '../src/net/tcp-reassembly.js';

const CLIENT: TcpEndpoint = { ip: '10.1.0.5', port: 40000 };
const SERVER: TcpEndpoint = { ip: '10.1.0.9', port: 80 };

const SYN = TCP_SYN;
const SYNACK = TCP_SYN | TCP_ACK;
const ACK = TCP_ACK;
const PSH = TCP_PSH | TCP_ACK;
const FIN = TCP_FIN | TCP_ACK;
const RST = TCP_RST;

/** One TCP segment as decodeFrame would leave it. */
function seg(from: TcpEndpoint, to: TcpEndpoint, seq: number, ack: number, flags: number, payload: string | Buffer = '', window = 65535): DecodedPacket {
  return {
    outcome: 'ok', reason: '', ipVersion: 4, srcIp: from.ip, dstIp: to.ip, protocol: 6,
    // SYNs offer the largest window scale, so that only the window test below is bound by windows.
    srcPort: from.port, dstPort: to.port, seq: seq >>> 0, ack: ack >>> 0, flags, window, windowScale: (flags & TCP_SYN) !== 0 ? 14 : -1,
    payload: typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload,
  };
}

type Event =
  | { conn: number; kind: 'data'; dir: Dir; bytes: string; ts: number }
  | { conn: number; kind: 'gap'; dir: Dir; length: number; ts: number }
  | { conn: number; kind: 'end'; reason: CloseReason; ts: number };

/** A factory whose handlers record every call, in order, across connections. */
function recorder(): { events: Event[]; conns: TcpConnection[]; factory: (c: TcpConnection) => StreamHandler } {
  const events: Event[] = [];
  const conns: TcpConnection[] = [];
  const factory = (c: TcpConnection): StreamHandler => {
    conns.push(c);
    return {
      data(dir, bytes, ts) {
        events.push({ conn: c.id, kind: 'data', dir, bytes: bytes.toString('latin1'), ts });
      },
      gap(dir, length, ts) {
        events.push({ conn: c.id, kind: 'gap', dir, length, ts });
      },
      end(reason, ts) {
        events.push({ conn: c.id, kind: 'end', reason, ts });
      },
    };
  };
  return { events, conns, factory };
}

function data(conn: number, dir: Dir, bytes: string, ts: number): Event {
  return { conn, kind: 'data', dir, bytes, ts };
}
function gap(conn: number, dir: Dir, length: number, ts: number): Event {
  return { conn, kind: 'gap', dir, length, ts };
}
function end(conn: number, reason: CloseReason, ts: number): Event {
  return { conn, kind: 'end', reason, ts };
}

const C_ISN = 1000;
const S_ISN = 5000;

/** SYN, SYN+ACK, ACK between CLIENT and SERVER at ts 1..3. */
function handshake(r: TcpReassembler, cIsn = C_ISN, sIsn = S_ISN): void {
  r.segment(seg(CLIENT, SERVER, cIsn, 0, SYN), 1);
  r.segment(seg(SERVER, CLIENT, sIsn, cIsn + 1, SYNACK), 2);
  r.segment(seg(CLIENT, SERVER, cIsn + 1, sIsn + 1, ACK), 3);
}

test('handshake then in-order data both ways: roles from the SYN, dir 0 is the client', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'GET / '), 10);
  r.segment(seg(CLIENT, SERVER, 1007, 5001, PSH, 'HTTP/1.1\r\n'), 11);
  r.segment(seg(SERVER, CLIENT, 5001, 1017, PSH, 'HTTP/1.1 200'), 12);
  r.segment(seg(CLIENT, SERVER, 1017, 5013, ACK), 13);

  assert.equal(conns.length, 1);
  const c = conns[0];
  assert.equal(c.id, 1);
  assert.deepEqual(c.client, CLIENT);
  assert.deepEqual(c.server, SERVER);
  assert.equal(c.roles, 'syn');
  assert.equal(c.midstream, false);
  assert.equal(c.firstTs, 1);
  assert.equal(c.lastTs, 13);
  assert.deepEqual(c.packets, [5, 2]);
  assert.deepEqual(c.bytes, [16, 12]);
  assert.deepEqual(events, [
    data(1, 0, 'GET / ', 10),
    data(1, 0, 'HTTP/1.1\r\n', 11),
    data(1, 1, 'HTTP/1.1 200', 12),
  ]);
  assert.equal(r.stats.connections, 1);
  assert.equal(r.stats.segments, 7);
  assert.equal(r.stats.retransmittedSegments, 0);
  assert.equal(r.stats.outOfOrderSegments, 0);
  assert.equal(r.openConnections, 1);
});

test('SYN+ACK seen first: the client is its destination and the handshake counts as seen', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  r.segment(seg(SERVER, CLIENT, S_ISN, C_ISN + 1, SYNACK), 1);
  r.segment(seg(CLIENT, SERVER, C_ISN + 1, S_ISN + 1, PSH, 'hello'), 2);
  r.segment(seg(SERVER, CLIENT, S_ISN + 1, C_ISN + 6, PSH, 'world'), 3);
  // The SYN captured late (the capture saw the two directions on different interfaces).
  r.segment(seg(CLIENT, SERVER, C_ISN, 0, SYN), 4);
  r.segment(seg(CLIENT, SERVER, C_ISN + 6, S_ISN + 6, PSH, '!'), 5);

  assert.equal(conns.length, 1, 'the late SYN carries the ISN the SYN+ACK acknowledged: same connection');
  assert.deepEqual(conns[0].client, CLIENT);
  assert.deepEqual(conns[0].server, SERVER);
  assert.equal(conns[0].roles, 'syn');
  assert.equal(conns[0].midstream, false, 'the SYN+ACK acknowledges the client ISN: nothing was missed');
  assert.deepEqual(events, [data(1, 0, 'hello', 2), data(1, 1, 'world', 3), data(1, 0, '!', 5)]);
});

test('a hole right after a SYN+ACK-only handshake is still seen as a hole', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  r.segment(seg(SERVER, CLIENT, S_ISN, C_ISN + 1, SYNACK), 1);
  // The client's first 5 bytes were not captured.
  r.segment(seg(CLIENT, SERVER, C_ISN + 6, S_ISN + 1, PSH, 'world'), 2);
  assert.deepEqual(events, []);
  r.finish(9);
  assert.equal(conns[0].midstream, false);
  assert.deepEqual(events, [gap(1, 0, 5, 9), data(1, 0, 'world', 2), end(1, 'end-of-capture', 9)]);
});

test('no handshake: roles guessed from the ports, midstream set, data starts where the capture did', () => {
  const cases: Array<{ a: TcpEndpoint; b: TcpEndpoint; client: TcpEndpoint }> = [
    // Well-known port versus a high one.
    { a: { ip: '10.0.0.2', port: 443 }, b: { ip: '10.0.0.1', port: 51000 }, client: { ip: '10.0.0.1', port: 51000 } },
    { a: { ip: '10.0.0.1', port: 51000 }, b: { ip: '10.0.0.2', port: 53 }, client: { ip: '10.0.0.1', port: 51000 } },
    // Two unprivileged ports: the ephemeral one (>= 32768) is the client.
    { a: { ip: '10.0.0.2', port: 8080 }, b: { ip: '10.0.0.1', port: 45000 }, client: { ip: '10.0.0.1', port: 45000 } },
    { a: { ip: '10.0.0.1', port: 45000 }, b: { ip: '10.0.0.2', port: 9090 }, client: { ip: '10.0.0.1', port: 45000 } },
    // Neither ephemeral: the higher port is the client.
    { a: { ip: '10.0.0.2', port: 5000 }, b: { ip: '10.0.0.1', port: 6000 }, client: { ip: '10.0.0.1', port: 6000 } },
  ];
  for (const { a, b, client } of cases) {
    const { events, conns, factory } = recorder();
    const r = new TcpReassembler(factory);
    r.segment(seg(a, b, 777_000, 123_000, PSH, 'first'), 1);
    r.segment(seg(b, a, 123_000, 777_005, PSH, 'reply'), 2);
    r.segment(seg(a, b, 777_005, 123_005, PSH, 'second'), 3);
    const c = conns[0];
    assert.equal(conns.length, 1);
    assert.deepEqual(c.client, client, `${a.port} -> ${b.port}`);
    assert.equal(c.roles, 'guessed');
    assert.equal(c.midstream, true);
    const aDir: Dir = a.port === client.port ? 0 : 1;
    const bDir: Dir = (1 - aDir) as Dir;
    assert.deepEqual(events, [data(1, aDir, 'first', 1), data(1, bDir, 'reply', 2), data(1, aDir, 'second', 3)]);
  }
});

test('a retransmitted segment is dropped and counted', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abcdef'), 10);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abcdef'), 11);
  r.segment(seg(CLIENT, SERVER, 1007, 5001, PSH, 'gh'), 12);
  assert.deepEqual(events, [data(1, 0, 'abcdef', 10), data(1, 0, 'gh', 12)]);
  assert.equal(r.stats.retransmittedSegments, 1);
  assert.equal(r.stats.overlapBytes, 6);
});

test('an overlapping segment is trimmed: the first copy of a byte wins', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abcdef'), 10);
  // Bytes 1004..1006 again, with different content, then 3 new bytes.
  r.segment(seg(CLIENT, SERVER, 1004, 5001, PSH, 'XYZghi'), 11);
  assert.deepEqual(events, [data(1, 0, 'abcdef', 10), data(1, 0, 'ghi', 11)]);
  assert.equal(events.map((e) => (e.kind === 'data' ? e.bytes : '')).join(''), 'abcdefghi');
  assert.equal(r.stats.overlapBytes, 3);
  assert.equal(r.stats.retransmittedSegments, 0);
});

test('a held segment overlapping delivered bytes is trimmed when it is drained', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1005, 5001, PSH, 'XXghij'), 10); // held: 1005..1010
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abcdef'), 11); // 1001..1006 fills and overlaps two bytes
  assert.deepEqual(events, [data(1, 0, 'abcdef', 11), data(1, 0, 'ghij', 10)]);
  assert.equal(r.stats.overlapBytes, 2);
});

test('out-of-order segments are held and delivered in order once the hole fills', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1009, 5001, PSH, '3333'), 10);
  r.segment(seg(CLIENT, SERVER, 1005, 5001, PSH, '2222'), 11);
  r.segment(seg(SERVER, CLIENT, 5001, 1001, PSH, 'srv'), 12);
  assert.deepEqual(events, [data(1, 1, 'srv', 12)], 'nothing of the client delivered past the hole');
  r.segment(seg(CLIENT, SERVER, 1001, 5004, PSH, '1111'), 13);
  assert.deepEqual(events, [
    data(1, 1, 'srv', 12),
    data(1, 0, '1111', 13),
    data(1, 0, '2222', 11),
    data(1, 0, '3333', 10),
  ]);
  assert.equal(r.stats.outOfOrderSegments, 2);
  assert.equal(r.stats.gaps, 0);
  // The stream goes on in order afterwards.
  r.segment(seg(CLIENT, SERVER, 1013, 5004, PSH, '4'), 14);
  assert.deepEqual(events.at(-1), data(1, 0, '4', 14));
});

test('sequence numbers wrap around 2^32', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  const isn = 2 ** 32 - 10;
  handshake(r, isn, S_ISN);
  // isn+1 .. isn+20 crosses 0: bytes at 2^32-9 .. 2^32-1, then 0 .. 10.
  r.segment(seg(CLIENT, SERVER, isn + 1, S_ISN + 1, PSH, 'abcdefghij0123456789'), 10);
  assert.deepEqual(events, [data(1, 0, 'abcdefghij0123456789', 10)]);
  // Next expected is 11; out of order across the wrapped space.
  r.segment(seg(CLIENT, SERVER, 15, S_ISN + 1, PSH, 'LATER'), 11);
  r.segment(seg(CLIENT, SERVER, 11, S_ISN + 1, PSH, 'NEXT'), 12);
  // A retransmission from before the wrap is recognised as old.
  r.segment(seg(CLIENT, SERVER, 2 ** 32 - 5, S_ISN + 1, PSH, 'ZZZZZ'), 13);
  assert.deepEqual(events.slice(1), [data(1, 0, 'NEXT', 12), data(1, 0, 'LATER', 11)]);
  assert.equal(r.stats.retransmittedSegments, 1);
  // FIN both ways after the wrap ends the stream.
  r.segment(seg(CLIENT, SERVER, 20, S_ISN + 1, FIN), 14);
  r.segment(seg(SERVER, CLIENT, S_ISN + 1, 21, FIN), 15);
  assert.deepEqual(events.at(-1), end(1, 'fin', 15));
  assert.equal(conns[0].midstream, false);
  assert.equal(r.stats.gaps, 0);
});

test('a hole never filled: held data follows a gap of the right length at end of capture', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abc'), 10);
  r.segment(seg(CLIENT, SERVER, 1011, 5001, PSH, 'xyz'), 11); // 1004..1010 (7 bytes) never captured
  r.segment(seg(SERVER, CLIENT, 5001, 1004, PSH, 'ok'), 12); // ACK only up to 1004: no proof of the hole
  assert.deepEqual(events, [data(1, 0, 'abc', 10), data(1, 1, 'ok', 12)]);
  r.finish(99);
  assert.deepEqual(events.slice(2), [gap(1, 0, 7, 99), data(1, 0, 'xyz', 11), end(1, 'end-of-capture', 99)]);
  assert.deepEqual(conns[0].gapBytes, [7, 0]);
  assert.equal(r.stats.gaps, 1);
  assert.equal(r.stats.gapBytes, 7);
  assert.equal(r.openConnections, 0);
});

test('a hole is declared as soon as the peer acknowledges past it', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abc'), 10);
  r.segment(seg(CLIENT, SERVER, 1011, 5001, PSH, 'xyz'), 11);
  r.segment(seg(SERVER, CLIENT, 5001, 1014, ACK), 12);
  assert.deepEqual(events, [data(1, 0, 'abc', 10), gap(1, 0, 7, 12), data(1, 0, 'xyz', 11)]);
  // The missing bytes arriving late are old news.
  r.segment(seg(CLIENT, SERVER, 1004, 5001, PSH, '1234567'), 13);
  r.segment(seg(CLIENT, SERVER, 1014, 5001, PSH, 'more'), 14);
  assert.deepEqual(events.slice(3), [data(1, 0, 'more', 14)]);
});

test('one acknowledgement past two holes declares both', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'a'), 10);
  r.segment(seg(CLIENT, SERVER, 1004, 5001, PSH, 'b'), 11); // hole 1002..1003
  r.segment(seg(CLIENT, SERVER, 1010, 5001, PSH, 'c'), 12); // hole 1005..1009
  r.segment(seg(SERVER, CLIENT, 5001, 1011, ACK), 13);
  assert.deepEqual(events, [
    data(1, 0, 'a', 10),
    gap(1, 0, 2, 13),
    data(1, 0, 'b', 11),
    gap(1, 0, 5, 13),
    data(1, 0, 'c', 12),
  ]);
});

test('an acknowledgement inside the hole declares nothing yet', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'a'), 10);
  r.segment(seg(CLIENT, SERVER, 1010, 5001, PSH, 'c'), 11);
  r.segment(seg(SERVER, CLIENT, 5001, 1005, ACK), 12);
  assert.deepEqual(events, [data(1, 0, 'a', 10)]);
  r.segment(seg(CLIENT, SERVER, 1002, 5001, PSH, '12345678'), 13);
  assert.deepEqual(events.slice(1), [data(1, 0, '12345678', 13), data(1, 0, 'c', 11)]);
  assert.equal(r.stats.gaps, 0);
});

test('FIN both ways ends the stream once, with reason fin', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'req'), 10);
  r.segment(seg(SERVER, CLIENT, 5001, 1004, PSH, 'resp'), 11);
  r.segment(seg(CLIENT, SERVER, 1004, 5005, FIN), 12);
  assert.equal(events.filter((e) => e.kind === 'end').length, 0, 'one FIN is a half close');
  r.segment(seg(SERVER, CLIENT, 5005, 1005, FIN, 'bye'), 13); // data riding on the FIN
  r.segment(seg(CLIENT, SERVER, 1005, 5009, ACK), 14);
  r.segment(seg(SERVER, CLIENT, 5005, 1005, FIN, 'bye'), 15); // retransmitted FIN
  r.finish(20);
  assert.deepEqual(events, [
    data(1, 0, 'req', 10),
    data(1, 1, 'resp', 11),
    data(1, 1, 'bye', 13),
    end(1, 'fin', 13),
  ]);
  assert.equal(r.stats.afterClose, 2);
});

test('a FIN ahead of a hole waits for it; filled, the stream ends with fin', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1004, 5001, FIN, 'def'), 10); // 1001..1003 not here yet
  r.segment(seg(SERVER, CLIENT, 5001, 1001, FIN), 11);
  assert.deepEqual(events, []);
  r.segment(seg(CLIENT, SERVER, 1001, 5002, PSH, 'abc'), 12);
  assert.deepEqual(events, [data(1, 0, 'abc', 12), data(1, 0, 'def', 10), end(1, 'fin', 12)]);
});

test('data announced by a FIN but never captured is a gap before the end', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abc'), 10);
  r.segment(seg(CLIENT, SERVER, 1010, 5001, FIN), 11); // 1004..1009 lost, then FIN
  r.finish(30);
  assert.deepEqual(events, [data(1, 0, 'abc', 10), gap(1, 0, 6, 30), end(1, 'end-of-capture', 30)]);
});

test('the peer acknowledging a FIN whose data was lost: a gap, then the stream ends with fin', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abc'), 10);
  r.segment(seg(CLIENT, SERVER, 1010, 5001, FIN), 11); // 1004..1009 never captured
  r.segment(seg(SERVER, CLIENT, 5001, 1011, FIN), 12); // acknowledges everything up to the FIN
  r.segment(seg(CLIENT, SERVER, 1011, 5002, ACK), 13);
  assert.deepEqual(events, [data(1, 0, 'abc', 10), gap(1, 0, 6, 12), end(1, 'fin', 12)]);
  assert.equal(r.stats.afterClose, 1);
});

test('RST ends the stream; data riding on it is delivered first', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'req'), 10);
  r.segment(seg(SERVER, CLIENT, 5001, 1004, RST | ACK, 'last words'), 11);
  r.segment(seg(CLIENT, SERVER, 1004, 5011, PSH, 'late'), 12);
  r.finish(20);
  assert.deepEqual(events, [data(1, 0, 'req', 10), data(1, 1, 'last words', 11), end(1, 'rst', 11)]);
  assert.equal(conns[0].rsts, 1);
  assert.equal(r.stats.afterClose, 1);
});

test('RST with data after a hole: the hole is a gap, then the data, then the end', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(SERVER, CLIENT, 5004, 1001, RST, 'xyz'), 10);
  assert.deepEqual(events, [gap(1, 1, 3, 10), data(1, 1, 'xyz', 10), end(1, 'rst', 10)]);
});

test('port reuse: a new SYN with another ISN after the close is a new connection', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'one'), 10);
  r.segment(seg(CLIENT, SERVER, 1004, 5001, FIN), 11);
  r.segment(seg(SERVER, CLIENT, 5001, 1005, FIN), 12);
  r.segment(seg(CLIENT, SERVER, 1005, 5002, ACK), 13);
  // Same 4-tuple, new ISNs.
  r.segment(seg(CLIENT, SERVER, 90_000, 0, SYN), 20);
  r.segment(seg(SERVER, CLIENT, 70_000, 90_001, SYNACK), 21);
  r.segment(seg(CLIENT, SERVER, 90_001, 70_001, PSH, 'two'), 22);
  assert.equal(conns.length, 2);
  assert.equal(conns[1].id, 2);
  assert.equal(conns[1].firstTs, 20);
  assert.equal(conns[1].roles, 'syn');
  assert.deepEqual(conns[1].client, CLIENT);
  assert.deepEqual(events, [data(1, 0, 'one', 10), end(1, 'fin', 12), data(2, 0, 'two', 22)]);
  assert.equal(r.stats.connections, 2);
  assert.equal(r.openConnections, 1);
});

test('port reuse while the old connection looks open closes it with reason port-reuse', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'one'), 10);
  r.segment(seg(CLIENT, SERVER, 90_000, 0, SYN), 20);
  r.segment(seg(CLIENT, SERVER, 90_001, 0, PSH, 'two'), 21);
  assert.equal(conns.length, 2);
  assert.deepEqual(events, [data(1, 0, 'one', 10), end(1, 'port-reuse', 20), data(2, 0, 'two', 21)]);
});

test('a retransmitted SYN (same ISN) is not a new connection, before or after data', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  r.segment(seg(CLIENT, SERVER, C_ISN, 0, SYN), 1);
  r.segment(seg(CLIENT, SERVER, C_ISN, 0, SYN), 2);
  r.segment(seg(SERVER, CLIENT, S_ISN, C_ISN + 1, SYNACK), 3);
  r.segment(seg(CLIENT, SERVER, C_ISN + 1, S_ISN + 1, PSH, 'abc'), 4);
  r.segment(seg(SERVER, CLIENT, S_ISN + 1, C_ISN + 4, PSH, 'ok'), 5);
  // Late copies of the SYN and of the SYN+ACK, after data flowed both ways.
  r.segment(seg(CLIENT, SERVER, C_ISN, 0, SYN), 6);
  r.segment(seg(SERVER, CLIENT, S_ISN, C_ISN + 1, SYNACK), 7);
  r.segment(seg(CLIENT, SERVER, C_ISN + 4, S_ISN + 3, PSH, 'def'), 8);
  r.segment(seg(SERVER, CLIENT, S_ISN + 3, C_ISN + 7, PSH, '!'), 9);
  assert.equal(conns.length, 1);
  assert.deepEqual(events, [data(1, 0, 'abc', 4), data(1, 1, 'ok', 5), data(1, 0, 'def', 8), data(1, 1, '!', 9)]);
  assert.equal(r.stats.gaps, 0);
  assert.equal(r.stats.outOfOrderSegments, 0);
});

test('a retransmitted SYN after the close is a late segment, not a new connection', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, RST), 10);
  r.segment(seg(CLIENT, SERVER, C_ISN, 0, SYN), 11);
  assert.equal(conns.length, 1);
  assert.deepEqual(events, [end(1, 'rst', 10)]);
  assert.equal(r.stats.afterClose, 1);
});

test('the per-connection held-bytes cap forces a gap instead of growing', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory, { maxHeldBytesPerConnection: 10 });
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'ab'), 10);
  r.segment(seg(CLIENT, SERVER, 1013, 5001, PSH, '123456'), 11); // hole 1003..1012; 6 held
  assert.deepEqual(events, [data(1, 0, 'ab', 10)]);
  r.segment(seg(CLIENT, SERVER, 1025, 5001, PSH, 'ABCDEF'), 12); // 12 held > 10
  assert.deepEqual(events.slice(1), [gap(1, 0, 10, 12), data(1, 0, '123456', 11)]);
  assert.equal(r.stats.gaps, 1);
  // The second hole is within the cap and still waits.
  r.segment(seg(CLIENT, SERVER, 1019, 5001, PSH, 'uvwxyz'), 13);
  assert.deepEqual(events.slice(3), [data(1, 0, 'uvwxyz', 13), data(1, 0, 'ABCDEF', 12)]);
});

test('data after the close is counted and not delivered', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  r.segment(seg(CLIENT, SERVER, 1001, 5001, FIN), 10);
  r.segment(seg(SERVER, CLIENT, 5001, 1002, FIN), 11);
  r.segment(seg(CLIENT, SERVER, 1002, 5002, PSH, 'zombie'), 12);
  r.segment(seg(SERVER, CLIENT, 5002, 1002, PSH, 'undead'), 13);
  assert.deepEqual(events, [end(1, 'fin', 11)]);
  assert.equal(r.stats.afterClose, 2);
  assert.equal(r.stats.connections, 1);
});

test('a held segment survives the caller reusing its payload buffer', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  handshake(r);
  const chunk = Buffer.from('later bytes', 'latin1');
  r.segment(seg(CLIENT, SERVER, 1005, 5001, PSH, chunk), 10);
  chunk.fill(0x21); // the reader reuses its chunk for the next packet
  r.segment(seg(CLIENT, SERVER, 1001, 5001, PSH, 'abcd'), 11);
  assert.deepEqual(events, [data(1, 0, 'abcd', 11), data(1, 0, 'later bytes', 10)]);
});

test('connections are told apart by 4-tuple and numbered in order of first packet', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  const other: TcpEndpoint = { ip: '10.1.0.5', port: 40001 };
  r.segment(seg(CLIENT, SERVER, 1, 0, SYN), 1);
  r.segment(seg(other, SERVER, 100, 0, SYN), 2);
  r.segment(seg(other, SERVER, 101, 0, PSH, 'B'), 3);
  r.segment(seg(CLIENT, SERVER, 2, 0, PSH, 'A'), 4);
  r.finish(5);
  assert.deepEqual(conns.map((c) => [c.id, c.client.port]), [[1, 40000], [2, 40001]]);
  assert.deepEqual(events, [data(2, 0, 'B', 3), data(1, 0, 'A', 4), end(1, 'end-of-capture', 5), end(2, 'end-of-capture', 5)]);
});

test('the same connection captured on two nodes is delivered once; the copies count as duplicates, not retransmissions', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  // Node A (file 0) and node B (file 1) saw the same packets; B's copies come a little later.
  const packets: Array<[DecodedPacket, number]> = [
    [seg(CLIENT, SERVER, C_ISN, 0, SYN), 1],
    [seg(SERVER, CLIENT, S_ISN, C_ISN + 1, SYNACK), 2],
    [seg(CLIENT, SERVER, C_ISN + 1, S_ISN + 1, PSH, 'GET / HTTP/1.1\r\n\r\n'), 3],
    [seg(SERVER, CLIENT, S_ISN + 1, C_ISN + 19, PSH, 'HTTP/1.1 200 OK\r\n\r\n'), 4],
  ];
  for (const [p, ts] of packets) {
    r.segment(p, ts, 0);
    r.segment(p, ts + 0.5, 1);
  }
  r.finish(10);
  assert.equal(conns.length, 1);
  assert.deepEqual(conns[0].files, [0, 1]);
  assert.deepEqual(events.filter((e) => e.kind === 'data').map((e) => (e as { bytes: string }).bytes), ['GET / HTTP/1.1\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n']);
  assert.equal(r.stats.duplicateSegments, 2);
  assert.equal(r.stats.duplicateBytes, 37);
  assert.equal(r.stats.retransmittedSegments, 0);
  assert.equal(r.stats.connectionsInSeveralFiles, 1);
  // A true retransmission within node A's own capture is still one.
  const r2 = new TcpReassembler(recorder().factory);
  for (const [p, ts] of packets) r2.segment(p, ts, 0);
  r2.segment(packets[2][0], 5, 0);
  assert.equal(r2.stats.retransmittedSegments, 1);
  assert.equal(r2.stats.duplicateSegments, 0);
});

test('the same connection seen through a NAT in another file is recognised by its client ISN', () => {
  const { conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  const serviceIp: TcpEndpoint = { ip: '10.96.0.10', port: 80 };
  // File 0: the client's node sees the Service address; file 1: the server's node sees the pod.
  r.segment(seg(CLIENT, serviceIp, C_ISN, 0, SYN), 1, 0);
  r.segment(seg(CLIENT, SERVER, C_ISN, 0, SYN), 1.2, 1);
  // Another connection from the same client port with another ISN (a later one) is not a duplicate.
  r.segment(seg(CLIENT, { ip: '10.1.0.77', port: 80 }, C_ISN + 99999, 0, SYN), 5, 1);
  assert.equal(conns.length, 3);
  assert.equal(conns[0].duplicateOf, null);
  assert.equal(conns[1].duplicateOf, conns[0].id);
  assert.equal(conns[2].duplicateOf, null);
  assert.equal(r.stats.duplicateConnections, 1);
});

test('held data across all connections stops at the total cap', () => {
  const { events, factory } = recorder();
  const cap = 64 * 1024;
  const r = new TcpReassembler(factory, { maxHeldBytesPerConnection: 1 << 30, maxHeldBytesTotal: cap });
  const chunk = Buffer.alloc(1000, 0x61);
  // Ten connections, each missing its first segment and then sending 20 KB out of order.
  for (let c = 0; c < 10; c++) {
    const client: TcpEndpoint = { ip: '10.1.0.5', port: 41000 + c };
    r.segment(seg(client, SERVER, C_ISN, 0, SYN), 1);
    r.segment(seg(SERVER, client, S_ISN, C_ISN + 1, SYNACK), 2);
    for (let i = 1; i <= 20; i++) {
      r.segment(seg(client, SERVER, C_ISN + 1 + i * 1000, S_ISN + 1, PSH, chunk), 3 + i);
      assert.ok(r.heldBytesTotal <= cap, `held ${r.heldBytesTotal} <= ${cap}`);
    }
  }
  assert.ok(r.stats.heldCapHits > 0);
  assert.ok(r.stats.peakHeldBytes <= cap + chunk.length);
  // The connections that hit the cap declared their hole (the missing first 1000 bytes) and went on.
  assert.ok(events.some((e) => e.kind === 'gap' && e.length === 1000));
});

test('a hole that never fills holds at most the per-connection cap, whatever arrives after it', () => {
  const { events, factory } = recorder();
  const cap = 256 * 1024;
  const r = new TcpReassembler(factory, { maxHeldBytesPerConnection: cap });
  handshake(r);
  // The server opens its (scaled) window wide, so that 40 MB may be in flight.
  r.segment(seg(SERVER, CLIENT, S_ISN + 1, C_ISN + 1, ACK), 4);
  const chunk = Buffer.alloc(1460, 0x62);
  // 40 MB after a one-segment hole.
  let seq = C_ISN + 1 + 1460;
  for (let i = 0; i < 28000; i++, seq += 1460) {
    r.segment(seg(CLIENT, SERVER, seq, S_ISN + 1, PSH, chunk), 10 + i);
    assert.ok(r.heldBytesTotal <= cap + chunk.length);
  }
  assert.equal(events.filter((e) => e.kind === 'gap').length, 1);
  const delivered = events.filter((e) => e.kind === 'data').reduce((n, e) => n + (e as { bytes: string }).bytes.length, 0);
  assert.equal(delivered + r.heldBytesTotal, 28000 * 1460);
});

test('a segment beyond the receiver window is dropped, as the receiver would', () => {
  const { events, factory } = recorder();
  const r = new TcpReassembler(factory);
  // No window scaling (the SYNs carry no option): the server offers 256 bytes.
  const noScale = (p: DecodedPacket): DecodedPacket => ({ ...p, windowScale: -1 });
  r.segment(noScale(seg(CLIENT, SERVER, C_ISN, 0, SYN, '', 256)), 1);
  r.segment(noScale(seg(SERVER, CLIENT, S_ISN, C_ISN + 1, SYNACK, '', 256)), 2);
  r.segment(seg(CLIENT, SERVER, C_ISN + 1 + 100000, S_ISN + 1, PSH, 'far ahead', 256), 3);
  r.segment(seg(CLIENT, SERVER, C_ISN + 1 + 100, S_ISN + 1, PSH, 'in window', 256), 4);
  r.finish(5);
  assert.equal(r.stats.outOfWindowSegments, 1);
  assert.deepEqual(events.filter((e) => e.kind !== 'end'), [gap(1, 0, 100, 5), data(1, 0, 'in window', 4)]);
});

test('many connections on one port pair (past the lookup by ports) stay apart, close in order of first packet, and reuse works', () => {
  const { events, conns, factory } = recorder();
  const r = new TcpReassembler(factory);
  const hosts = Array.from({ length: 12 }, (_, i) => ({ ip: `10.2.0.${i + 1}`, port: 40000 }));
  const server = { ip: '10.2.1.1', port: 8080 };
  let ts = 1;
  // Interleaved: each host's SYN, then each one's data, then each one's reply: every segment must find its own connection.
  for (const h of hosts) r.segment(seg(h, server, 100, 0, SYN), ts++);
  for (const h of hosts) r.segment(seg(server, h, 900, 101, SYNACK), ts++);
  for (const h of hosts) r.segment(seg(h, server, 101, 901, PSH, `from ${h.ip}`), ts++);
  for (const h of [...hosts].reverse()) r.segment(seg(server, h, 901, 101 + 5 + h.ip.length, PSH, `to ${h.ip}`), ts++);
  // The fourth host's port reused by a new SYN (another ISN): a new connection, the old one ended.
  r.segment(seg(hosts[3], server, 7000, 0, SYN), ts++);
  r.segment(seg(hosts[3], server, 7001, 0, PSH, 'again'), ts++);
  r.finish(ts);
  assert.equal(conns.length, 13);
  assert.deepEqual(conns.map((c) => c.client.ip), [...hosts.map((h) => h.ip), hosts[3].ip]);
  for (const [i, h] of hosts.entries()) {
    assert.deepEqual(events.filter((e) => e.conn === i + 1 && e.kind === 'data').map((e) => (e as { bytes: string }).bytes), [`from ${h.ip}`, `to ${h.ip}`], h.ip);
  }
  assert.deepEqual(events.filter((e) => e.conn === 13 && e.kind === 'data').map((e) => (e as { bytes: string }).bytes), ['again']);
  assert.deepEqual(events.filter((e) => e.kind === 'end').map((e) => [e.conn, (e as { reason: string }).reason]), [
    [4, 'port-reuse'], ...[1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13].map((n) => [n, 'end-of-capture']),
  ]);
});
