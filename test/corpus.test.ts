/**
 * The public corpus (../shared/corpus: tcpdump's and Suricata's test captures and
 * more) against tshark's counts in its expected.json. Skipped, with a message,
 * when the corpus is not beside the checkout.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CaptureError } from '../src/capture/packet.js';
import { analyzeCaptures } from '../src/dissect/pipeline.js';
import { fileSource } from '../src/capture/index.js';
import type { DissectedTransaction } from '../src/dissect/record.js';
import { corpusDir, corpusFile, corpusPresent, corpusSkip } from './support/paths.js';

interface Expected {
  dns_queries: number;
  dns_responses: number;
  http2_streams_with_headers: number;
  grpc_messages: number;
  packets: number | null;
  tcp_streams: number;
  udp_streams: number;
  packets_tshark: number;
  readable: boolean;
  http_requests: number;
  http_responses: number;
}

const expected: Record<string, Expected> = corpusPresent ? JSON.parse(readFileSync(join(corpusDir, 'expected.json'), 'utf8')) : {};

/**
 * Where podcap's count of responses differs from tshark's on purpose (README,
 * design notes): tshark counts a response only once reassembly completed it;
 * podcap keeps a response cut by the end of the capture or a capture gap, with a
 * note, and finds HTTP inside a CONNECT tunnel after the 200.
 */
const RESPONSE_DIFFERENCES: Record<string, { responses: number; why: RegExp }> = {
  'http1/apt-get.pcap': { responses: 1, why: /connection ended before the response was complete/ },
  'http1/espn.pcapng': { responses: 61, why: /bytes not captured/ },
  'http1/connect-simple.pcap': { responses: 2, why: /^$/ },
  'malformed/truncated-google.pcapng': { responses: 1, why: /connection ended before the response was complete/ },
  'malformed/truncated-post.pcapng': { responses: 2, why: /connection ended before the response was complete/ },
};

/**
 * Where podcap's connection counts differ from tshark's tcp.stream / udp.stream
 * (README design notes): tshark counts a tunnel's outer UDP carrier as a flow,
 * podcap counts only the traffic inside; tshark stops at an outer length of 0
 * (a BIG TCP super-packet) where podcap takes the frame's extent; a TCP header cut
 * by the snap length opens no connection in podcap.
 */
const FLOW_DIFFERENCES: Record<string, { tcp: number; udp: number }> = {
  'linktypes/bigtcp-ipv4-vxlan-ipv6.pcap': { tcp: 1, udp: 0 },
  'linktypes/geneve.pcap': { tcp: 1, udp: 0 },
  'linktypes/gso-ipv4-vxlan-ipv4.pcap': { tcp: 1, udp: 0 },
  'linktypes/gso-ipv6-geneve-ipv6.pcap': { tcp: 1, udp: 0 },
  'malformed/heapoverflow-tcp.pcap': { tcp: 0, udp: 0 },
};

function filesIn(folder: string): string[] {
  const dir = join(corpusDir, folder);
  return existsSync(dir) ? readdirSync(dir).sort().map((f) => `${folder}/${f}`) : [];
}

async function analyze(rel: string): Promise<{ txs: DissectedTransaction[]; result: Awaited<ReturnType<typeof analyzeCaptures>> }> {
  const txs: DissectedTransaction[] = [];
  const result = await analyzeCaptures([fileSource(corpusFile(rel))], (t) => txs.push(t));
  return { txs, result };
}

describe('corpus: HTTP/1 transactions against tshark', { skip: corpusSkip }, () => {
  for (const rel of [...filesIn('http1'), ...filesIn('formats'), 'malformed/truncated-google.pcapng', 'malformed/truncated-post.pcapng']) {
    it(rel, async () => {
      const e = expected[rel];
      assert.ok(e, `${rel} is in expected.json`);
      const { txs } = await analyze(rel);
      const http = txs.filter((t) => t.record.protocol === 'http');
      const withRequest = http.filter((t) => t.record.request.method !== '');
      const withResponse = http.filter((t) => t.record.response !== null);
      assert.equal(withRequest.length, e.http_requests, 'one transaction per HTTP request tshark finds');
      const diff = RESPONSE_DIFFERENCES[rel];
      if (!diff) {
        assert.equal(withResponse.length, e.http_responses, 'responses as tshark counts them');
        return;
      }
      assert.equal(withResponse.length, diff.responses);
      assert.notEqual(diff.responses, e.http_responses, 'still a difference; else drop the exception');
      const explained = withResponse.filter((t) => t.record.notes.some((n) => diff.why.test(n)) || diff.why.test(t.record.notes.join(''))).length;
      assert.ok(explained >= diff.responses - e.http_responses, 'each extra response carries the note that explains it');
    });
  }
});

/**
 * http2/errorcode.pcap holds one gRPC call made through an HTTP CONNECT proxy: the
 * call is on the wire twice, inside the client's tunnel to the proxy (port 8888)
 * and on the proxy's own connection to the server. tshark, told that 8888 is
 * HTTP/2, cannot read the tunnel (it starts with the CONNECT in HTTP/1) and counts
 * the second only; podcap follows the tunnel and finds both.
 */
const HTTP2_DIFFERENCES: Record<string, { streams: number; messages: number }> = {
  'http2/errorcode.pcap': { streams: 2, messages: 4 },
};

describe('corpus: HTTP/2 streams and gRPC messages against tshark', { skip: corpusSkip }, () => {
  for (const rel of [...filesIn('http2'), ...filesIn('grpc')]) {
    it(rel, async () => {
      const e = expected[rel];
      assert.ok(e, `${rel} is in expected.json`);
      const { txs } = await analyze(rel);
      const streams = txs.filter((t) => t.record.http2).length;
      const messages = txs.reduce((n, t) => n + (t.record.grpc ? t.record.grpc.requestMessages + t.record.grpc.responseMessages : 0), 0);
      const want = HTTP2_DIFFERENCES[rel] ?? { streams: e.http2_streams_with_headers, messages: e.grpc_messages };
      assert.equal(streams, want.streams, 'HTTP/2 streams with headers (tshark, told the ports)');
      assert.equal(messages, want.messages, 'gRPC messages');
      for (const t of txs.filter((x) => x.record.http2)) {
        assert.ok(t.record.request.method || t.record.notes.some((n) => /not captured|not decodable/.test(n)), 'each stream has its method or says why not');
      }
    });
  }
});

describe('corpus: DNS queries and responses against tshark', { skip: corpusSkip }, () => {
  const files = [...filesIn('dns'), 'malformed/dns-corrupt-additionals.pcap', 'malformed/dns-truncated-rname.pcap', 'http1/espn.pcapng'];
  for (const rel of files) {
    it(rel, async () => {
      const e = expected[rel];
      const { txs, result } = await analyze(rel);
      const dns = txs.filter((t) => t.record.dns);
      // tshark counts messages: a query sent twice is two, in podcap one transaction with one retry.
      const queries = dns.reduce((n, t) => n + (t.record.dns!.queryLength > 0 ? 1 + t.record.dns!.retries : 0), 0);
      const responses = dns.filter((t) => t.record.response !== null).length;
      assert.equal(queries, e.dns_queries, 'queries');
      assert.equal(responses, e.dns_responses, 'responses');
      assert.equal(result.report.dns.queries, e.dns_queries);
      for (const t of dns) {
        const d = t.record.dns!;
        assert.ok(d.questions.length > 0 || t.record.notes.length > 0, 'a question, or a note saying why not');
        if (t.record.response) assert.equal(t.record.status, t.record.response.status);
      }
    });
  }
});

describe('corpus: every packet accounted for, nothing fatal', { skip: corpusSkip }, () => {
  const folders = corpusPresent ? readdirSync(corpusDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort() : [];
  for (const folder of folders) {
    for (const rel of filesIn(folder)) {
      const e = expected[rel];
      it(rel, async () => {
        if (e && !e.readable && e.packets === null) {
          await assert.rejects(analyze(rel), CaptureError);
          return;
        }
        const { result } = await analyze(rel);
        const r = result.report;
        const skipped = Object.values(r.skipped).reduce((a, b) => a + b, 0);
        const damaged = Object.values(r.damaged).reduce((a, b) => a + b, 0);
        assert.equal(r.tcpSegments + r.udpDatagrams + r.heldFragments + skipped + damaged, r.packets, 'decoded + held + skipped + damaged = read');
        const dropped = Object.values(r.fragments.dropped).reduce((a, b) => a + b, 0);
        assert.equal(r.heldFragments, r.fragments.reassembledFragments + dropped, 'every held fragment went into a datagram or was dropped');
        if (e?.packets !== null && e?.packets !== undefined) assert.equal(r.packets, e.packets, 'packets read, as capinfos counts');
        if (e) {
          const want = FLOW_DIFFERENCES[rel] ?? { tcp: e.tcp_streams, udp: e.udp_streams };
          assert.equal(r.tcp.connections, want.tcp, 'TCP connections (tshark tcp.stream)');
          assert.equal(r.udpFlows, want.udp, 'UDP flows (tshark udp.stream)');
        }
      });
    }
  }
});
