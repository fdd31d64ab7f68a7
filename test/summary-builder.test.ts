/**
 * The summary builder (store/summary-builder.ts) remembers what the last row of each connection
 * (all UDP rows share one memory) was filed under, and per name or method the endpoint of rows
 * like it. Whatever the order rows come in, each must be filed exactly as the labels say
 * computed afresh: endpoint, edge, credentials and the rows under each indexed value.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { listCaptureSources } from '../src/capture/index.js';
import { DEFAULT_ANALYSIS_OPTIONS, analyzeCaptures } from '../src/dissect/pipeline.js';
import { Enricher } from '../src/k8s/enrich.js';
import { IdentityResolver } from '../src/k8s/identity.js';
import { loadManifests } from '../src/k8s/manifest.js';
import { SummaryBuilder } from '../src/store/summary-builder.js';
import { CHUNK_ROWS, decodeChunk, type EdgeKey, type SummaryChunk } from '../src/store/summary-format.js';
import { authOf, destinationLabel, endpointKeyOf, sourceLabel, workloadLabel, type Row } from '../src/store/summary-labels.js';
import { mulberry32 } from '../scripts/prng.js';
import { fixturesDir } from './support/paths.js';

/** Every record of the fixtures below, named after the sample's cluster, in the order dissected. */
async function fixtureRows(): Promise<Row[]> {
  const files = ['sample/capture.pcap', 'dns/dns.pcap', 'grpc/grpc.pcap', 'h2/h2c-prior-knowledge.pcap', 'http1/sample.pcap'].map((f) => join(fixturesDir, f));
  const model = await loadManifests([join(fixturesDir, 'sample', 'cluster.yaml')]);
  const enricher = new Enricher(new IdentityResolver(model));
  const rows: Row[] = [];
  for (const f of files) {
    const { sources } = await listCaptureSources([f]);
    await analyzeCaptures(sources, (t) => {
      enricher.apply(t.record);
      rows.push(t.record);
    }, DEFAULT_ANALYSIS_OPTIONS);
  }
  return rows;
}

function build(rows: Row[]): { chunks: SummaryChunk[]; endpoint: unknown[]; edge: EdgeKey[] } {
  const chunks: SummaryChunk[] = [];
  const b = new SummaryBuilder((c) => chunks.push(c));
  rows.forEach((r, i) => b.add(i + 1, r));
  const d = b.finish();
  return { chunks, endpoint: d.endpoint, edge: d.edge };
}

/** Each row's filing checked against the labels computed for it alone. */
function assertFiledAsLabelled(rows: Row[], what: string): void {
  const { chunks, endpoint, edge } = build(rows);
  const posted = new Map<string, number[]>();
  for (const c of chunks) {
    const cols = decodeChunk(c.columns);
    for (let i = 0; i < cols.count; i++) {
      const seq = c.chunk * CHUNK_ROWS + i + 1;
      const r = rows[seq - 1];
      assert.deepEqual(endpoint[cols.endpoint[i]], endpointKeyOf(r), `${what}: endpoint of row ${seq}`);
      assert.deepEqual(edge[cols.edge[i]], {
        protocol: r.protocol, source: sourceLabel(r.src), destination: destinationLabel(r.dst),
        sourceWorkload: workloadLabel(r.src), destinationWorkload: workloadLabel(r.dst),
      }, `${what}: edge of row ${seq}`);
      assert.equal(cols.auth[i], authOf(r), `${what}: credentials of row ${seq}`);
    }
    for (const p of c.postings) {
      const rowsOf = [...new Uint16Array(p.rows.buffer, p.rows.byteOffset, p.rows.byteLength / 2)].map((i) => c.chunk * CHUNK_ROWS + i + 1);
      posted.set(`${p.field}=${p.value}`, [...(posted.get(`${p.field}=${p.value}`) ?? []), ...rowsOf]);
    }
  }
  // A few of the indexed values, computed afresh: the memo's posting-list shortcut must not misfile.
  const want = new Map<string, number[]>();
  const add = (k: string, seq: number): void => void want.set(k, [...(want.get(k) ?? []), seq]);
  rows.forEach((r, i) => {
    const seq = i + 1;
    if (r.protocol !== 'dns') add(`method=${r.request.method}`, seq);
    if (r.src.namespace) add(`src.ns=${r.src.namespace}`, seq);
    if (r.dst.service?.name) add(`dst.svc=${r.dst.service.name}`, seq);
    if (r.grpc) add(`grpc.method=${r.grpc.method}`, seq);
    if (r.dns) for (const q of r.dns.questions) if (q.name) add(`dns.name=${q.name.toLowerCase()}`, seq);
  });
  for (const [k, seqs] of want) assert.deepEqual(posted.get(k), seqs, `${what}: rows under ${k}`);
}

describe('summary builder', () => {
  it('files every row as its labels say, in capture order and shuffled', async () => {
    const rows = await fixtureRows();
    assert.ok(rows.length > 200, `${rows.length} rows`);
    assert.ok(rows.some((r) => r.dns) && rows.some((r) => r.grpc) && rows.some((r) => r.src.workload), 'DNS, gRPC and named rows among them');
    assertFiledAsLabelled(rows, 'capture order');
    // Variants the fixtures lack: the same server on another port, a client on another port (a
    // DNS client's next query), a name asked with another type, a method of another service.
    const step = Math.max(1, Math.floor(rows.length / 400));
    const variants = rows.filter((_, i) => i % step === 0).flatMap((r, i) => {
      const v = structuredClone(r);
      if (i % 4 === 0) v.dst.port += 1;
      else if (i % 4 === 1) v.src.port += 1000;
      else if (v.dns && v.dns.questions[0]) v.dns.questions[0].type = v.dns.questions[0].type === 'A' ? 'AAAA' : 'A';
      else if (v.grpc) v.grpc.service = `${v.grpc.service}.v2`;
      else v.dst.port += 2;
      return [r, v];
    });
    rows.push(...variants);
    assertFiledAsLabelled(rows, 'with variants, in order');
    const rand = mulberry32(0x5ab);
    for (let round = 0; round < 3; round++) {
      // Shuffled, then repeated past a chunk's end: memos meet rows of other connections, other
      // types and names, and a new chunk's posting lists.
      const shuffled = [...rows];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      const many: Row[] = [];
      while (many.length < CHUNK_ROWS + 500) many.push(...shuffled);
      assertFiledAsLabelled(many, `shuffle ${round}`);
    }
  });
});
