/**
 * bench: podcap's import and query performance on large captures of REAL loopback traffic, next
 * to tshark on the same files (issue 8).
 *
 *   npm run bench [-- OPTIONS]          (as root: tcpdump, dnsmasq; needs wrk, h2load (nghttp2-client),
 *                                        tshark, mergecap, dnsmasq, /usr/bin/time)
 *
 *   --fresh          make every selected capture anew (default: reuse bench-data/NAME.pcap when its
 *                    sidecar NAME.pcap.json says it is complete and the size matches)
 *   --only NAME      only these captures (repeatable, or comma-separated): http1-300m, http1-3g,
 *                    h2c-300m, grpc-300m, dns-100m, mixed-300m. Captures they are made from are made
 *                    too when missing, but not measured.
 *   --skip-3g        leave out http1-3g (it is also left out, with a message, when disk space is short)
 *   --no-tshark      skip the tshark runs (quick podcap-only numbers)
 *   --runs N         runs per query (default 3; the median is reported)
 *   --gen-only       make the captures, measure nothing
 *
 * Phase 1 makes the captures in bench-data/ (git-ignored), each with tcpdump -i lo -s 0 -B 65536 and
 * a BPF filter on its own port, so nothing else on loopback gets in; a capture whose tcpdump reports
 * packets dropped by the kernel is made again at a lower load. Each NAME.pcap.json records how it was
 * made (commands, packets, drops, what the load client and server counted, seconds).
 *
 *   http1-300m   wrk (1 thread, 64 keep-alive connections, a Lua pool of 1000 requests with browser-like
 *                headers, GET/POST, JSON bodies) against a Node http server: 200/201/404/503
 *   http1-3g     10 copies of http1-300m one after the other, copy k shifted in time and moved to
 *                127.k.0.1 (checksums adjusted), so its connections are distinct
 *   h2c-300m     h2load (8 connections x 32 streams) against a Node http2 server (prior knowledge)
 *   grpc-300m    a @grpc/grpc-js client (4 channels x 32 unary GetProduct calls in flight, metadata,
 *                deadlines; 1 call in 4 asks for the product's 12 KiB image, or grpc-js's ~2-4k calls/s
 *                on 2 cores would need minutes for 300 MB) against a grpc-js server,
 *                fixtures/grpc/shop.proto; OK, NOT_FOUND, UNAVAILABLE
 *   dns-100m     a Node UDP client (dns-packet; 8 sockets x 32 queries in flight) against dnsmasq on
 *                127.0.0.77:53 (host records, SRV, TXT, NXDOMAIN for unknown cluster.local names)
 *   mixed-300m   the first 100/70/70/60 MB of http1/h2c/grpc/dns, shifted to start together, merged
 *                in time order with mergecap
 *
 * Phase 2, per capture: podcap import into a fresh temporary workspace as a whole process under
 * /usr/bin/time -v (wall, peak RSS; the process tree's RSS is also sampled every 100 ms), then the
 * queries (each `--runs` times, median, as whole processes), then tshark on the same file the same way.
 * The table goes to stdout and bench-data/results.md (raw figures: bench-data/results.json).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DNS_IP,
  GRPC_PORT,
  H2_PORT,
  HOST,
  HTTP1_PORT,
  FAKE_JWT,
  dnsLoad,
  dnsPacket,
  dnsmasqArgs,
  grpcLoad,
  grpcServer,
  h2Server,
  h2loadUris,
  http1Server,
  loadAvg,
  machineInfo,
  markdownTable,
  measure,
  median,
  pcapInfo,
  replicatePcap,
  slicePcap,
  sleep,
  wrkLua,
  type Measured,
} from './bench-lib.js';
import { capturerDrops, haveTool, log, ROOT, runCommand, setLogPrefix, startCapturer, stopCapturer, type Capturer } from './fixture-lib.js';

const SELF = fileURLToPath(import.meta.url);
const MAIN = join(ROOT, 'dist', 'src', 'main.js');
const DATA = join(ROOT, 'bench-data');
const GEN = join(DATA, '.gen');
const PROTO = join(ROOT, 'fixtures', 'grpc', 'shop.proto');
const MB = 1e6;

type Name = 'http1-300m' | 'http1-3g' | 'h2c-300m' | 'grpc-300m' | 'dns-100m' | 'mixed-300m';
const ORDER: Name[] = ['http1-300m', 'h2c-300m', 'grpc-300m', 'dns-100m', 'mixed-300m', 'http1-3g'];
const TARGET: Record<Name, number> = {
  'http1-300m': 300 * MB,
  'http1-3g': 3000 * MB,
  'h2c-300m': 300 * MB,
  'grpc-300m': 300 * MB,
  'dns-100m': 100 * MB,
  'mixed-300m': 300 * MB,
};
const DEPENDS: Partial<Record<Name, Name[]>> = {
  'http1-3g': ['http1-300m'],
  'mixed-300m': ['http1-300m', 'h2c-300m', 'grpc-300m', 'dns-100m'],
};
const MIX: Array<[Name, number]> = [
  ['http1-300m', 100 * MB],
  ['h2c-300m', 70 * MB],
  ['grpc-300m', 70 * MB],
  ['dns-100m', 60 * MB],
];
/** A live capture stops at its size or after this long, whichever comes first. */
const MAX_CAPTURE_SECONDS = 240;

const BPF = {
  http1: `tcp port ${HTTP1_PORT}`,
  h2c: `tcp port ${H2_PORT}`,
  grpc: `tcp port ${GRPC_PORT}`,
  dns: `host ${DNS_IP} and port 53`,
};

const TSHARK_ARGS: Record<Name, string[]> = {
  'http1-300m': ['-q', '-z', 'http,tree'],
  'http1-3g': ['-q', '-z', 'http,tree'],
  'h2c-300m': ['-q', '-d', `tcp.port==${H2_PORT},http2`, '-z', 'http2,tree'],
  // http2,tree alone counts frames; the io,stat column makes tshark hand every DATA payload to its
  // gRPC dissector and count the messages it finds (COUNT of grpc.message_length).
  'grpc-300m': ['-q', '-d', `tcp.port==${GRPC_PORT},http2`, '-z', 'http2,tree', '-z', 'io,stat,0,COUNT(grpc.message_length)grpc.message_length'],
  'dns-100m': ['-q', '-z', 'dns,tree'],
  'mixed-300m': ['-q', '-d', `tcp.port==${H2_PORT},http2`, '-d', `tcp.port==${GRPC_PORT},http2`, '-z', 'http,tree', '-z', 'http2,tree', '-z', 'io,stat,0,COUNT(grpc.message_length)grpc.message_length', '-z', 'dns,tree'],
};

/** A query whose first run takes longer than this is not repeated (the 3 GB scan): the time budget. */
const SLOW_QUERY_MS = 20_000;

const INDEXED_FILTER = 'http && status_code == 404';
/** Matches nothing in these captures, so every record is read and evaluated (map_get: no missing-key errors on DNS/gRPC). */
const SCAN_FILTER = 'map_get(request.headers, "user-agent", "").contains("curl/")';

const fileOf = (n: Name): string => join(DATA, `${n}.pcap`);
const metaOf = (n: Name): string => `${fileOf(n)}.json`;

interface CaptureMeta {
  name: Name;
  bytes: number;
  packets: number | null;
  dropped: number | null;
  seconds: number;
  madeAt: string;
  commands: string[];
  notes: string[];
}

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmt1 = (n: number): string => n.toFixed(1);
const sh = (args: string[]): string => args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
const t0 = Date.now();
const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

// ---------------------------------------------------------------------------------------------
// Child processes: servers and load clients (node dist/scripts/bench.js __child MODE ...)
// ---------------------------------------------------------------------------------------------

async function runChild(args: string[]): Promise<void> {
  const [mode, ...a] = args;
  const n = (i: number): number => Number(a[i]);
  if (mode === 'http1-server') return http1Server(n(0));
  if (mode === 'h2-server') return h2Server(n(0));
  if (mode === 'grpc-server') return grpcServer(n(0), a[1]!);
  if (mode === 'grpc-load') return grpcLoad(n(0), a[1]!, n(2), n(3));
  if (mode === 'dns-load') return dnsLoad(a[0]!, n(1), n(2));
  if (mode === 'query-latency') return queryLatency(a[0]!, n(1), a[2] === 'stats', a[3] !== 'noscan');
  throw new Error(`unknown child mode ${mode}`);
}

/**
 * The queries' own latency, without process start-up: in one process, each query run through the
 * CLI's entry (runCommand: workspace opened, filter planned, rows read, JSON written to a sink)
 * once to load its modules, then `runs` times. Prints {indexed, scan, stats}: ms per run.
 */
async function queryLatency(ws: string, runs: number, withStats: boolean, withScan: boolean): Promise<void> {
  const { runCommand } = (await import(join(ROOT, 'dist', 'src', 'cli', 'commands.js'))) as { runCommand: (cmd: string, args: string[], io: { out: (s: string) => void; err: (s: string) => void }) => Promise<number> };
  const io = { out: (_s: string): void => undefined, err: (_s: string): void => undefined };
  const time = async (cmd: string, args: string[], n: number, warm: boolean): Promise<number[]> => {
    if (warm) await runCommand(cmd, args, io);
    const out: number[] = [];
    for (let i = 0; i < n && !(out.length > 0 && out[0]! > SLOW_QUERY_MS); i++) {
      const t = process.hrtime.bigint();
      const code = await runCommand(cmd, args, io);
      if (code !== 0) throw new Error(`${cmd} exited ${code}`);
      out.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return out;
  };
  const w = ['--workspace', ws];
  const indexed = await time('calls', [INDEXED_FILTER, '--json', '--limit', '100', ...w], runs, true);
  // The scan reads every record: its modules are loaded by now, and a warm-up would double a long run.
  const scan = withScan ? await time('calls', [SCAN_FILTER, '--json', '--limit', '100', ...w], runs, false) : [];
  const stats = withStats ? await time('stats', ['--json', ...w], runs, true) : [];
  process.stdout.write(`${JSON.stringify({ indexed, scan, stats })}\n`);
}

interface Proc {
  label: string;
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<void>;
}

/** Starts a process and resolves when its stderr (or stdout) matches `ready`. */
async function startProc(label: string, cmd: string, args: string[], ready: RegExp | null, timeoutMs = 15_000): Promise<Proc> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const p: Proc = { label, proc, out: () => out, err: () => err, exited };
  if (!ready) return p;
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (ready.test(err) || ready.test(out)) return p;
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${label} exited before it was ready:\n${err}${out}`);
    if (Date.now() > until) {
      proc.kill('SIGKILL');
      throw new Error(`${label} not ready after ${timeoutMs} ms:\n${err}${out}`);
    }
    await sleep(50);
  }
}

async function stopProc(p: Proc, signal: NodeJS.Signals = 'SIGTERM', waitMs = 10_000): Promise<string> {
  if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill(signal);
  const r = await Promise.race([p.exited.then(() => 'ok'), sleep(waitMs).then(() => 'timeout')]);
  if (r === 'timeout') {
    p.proc.kill('SIGKILL');
    await p.exited;
  }
  const m = /summary: (.*)/.exec(p.err());
  return m ? m[1]! : '';
}

const childArgs = (mode: string, ...a: Array<string | number>): string[] => [SELF, '__child', mode, ...a.map(String)];

// ---------------------------------------------------------------------------------------------
// Phase 1: captures
// ---------------------------------------------------------------------------------------------

const tcpdumpArgs = (file: string, bpf: string): string[] => ['-i', 'lo', '-n', '-s', '0', '-B', '65536', '-Z', 'root', '-w', file, bpf];

interface LiveResult {
  packets: number | null;
  dropped: number | null;
  seconds: number;
  bytes: number;
  reachedTarget: boolean;
}

/**
 * tcpdump around a load: starts the capture, then the load, stops the load once the file has
 * `target` bytes (or after MAX_CAPTURE_SECONDS), waits a little, stops the capture.
 */
async function liveCapture(file: string, bpf: string, target: number, startLoad: () => Promise<Proc>, stopSignal: NodeJS.Signals): Promise<LiveResult & { loadSummary: string; loadOut: string }> {
  rmSync(file, { force: true });
  const cap: Capturer = await startCapturer('tcpdump', 'tcpdump', tcpdumpArgs(file, bpf), file, /listening on/);
  let load: Proc | null = null;
  try {
    await sleep(300);
    const t = Date.now();
    load = await startLoad();
    let size = 0;
    let lastLog = Date.now();
    while (Date.now() - t < MAX_CAPTURE_SECONDS * 1000) {
      await sleep(100);
      size = existsSync(file) ? statSync(file).size : 0;
      if (size >= target) break;
      if (load.proc.exitCode !== null || load.proc.signalCode !== null) throw new Error(`${load.label} exited early:\n${load.err()}${load.out()}`);
      if (Date.now() - lastLog > 10_000) {
        log(`  ${(size / MB).toFixed(0)} MB after ${((Date.now() - t) / 1000).toFixed(0)} s (load ${loadAvg()})`);
        lastLog = Date.now();
      }
    }
    const summary = await stopProc(load, stopSignal);
    const seconds = (Date.now() - t) / 1000;
    await sleep(400);
    const n = await stopCapturer(cap);
    const dropped = capturerDrops(cap);
    const bytes = statSync(file).size;
    chmodSync(file, 0o644);
    return { packets: n === '?' ? null : Number(n), dropped, seconds, bytes, reachedTarget: size >= target, loadSummary: summary, loadOut: load.out() };
  } catch (e) {
    if (load) await stopProc(load, 'SIGKILL', 2000).catch(() => undefined);
    cap.proc.kill('SIGKILL');
    throw e;
  }
}

/** Runs `attempt(level)` with level 0, 1, 2 until tcpdump reports no drops. */
async function withoutDrops(name: Name, attempt: (level: number) => Promise<CaptureMeta>): Promise<CaptureMeta> {
  for (let level = 0; ; level++) {
    const m = await attempt(level);
    if (m.dropped === 0) return m;
    if (m.dropped === null) {
      m.notes.push('tcpdump did not report a drop count');
      return m;
    }
    if (level >= 2) throw new Error(`${name}: tcpdump still reports ${m.dropped} packets dropped by the kernel at the lowest load`);
    log(`${name}: tcpdump reports ${m.dropped} packets dropped by the kernel; again with less load`);
  }
}

async function makeHttp1(): Promise<CaptureMeta> {
  const name: Name = 'http1-300m';
  const lua = join(GEN, 'http1.lua');
  writeFileSync(lua, wrkLua(HTTP1_PORT));
  return withoutDrops(name, async (level) => {
    const conns = [64, 32, 16][level]!;
    const server = await startProc('http1 server', process.execPath, childArgs('http1-server', HTTP1_PORT), /^ready/m);
    const tmp = `${fileOf(name)}.tmp`;
    const wrkArgs = ['-t1', `-c${conns}`, '-d600s', '--latency', '-s', lua, `http://${HOST}:${HTTP1_PORT}/`];
    try {
      const r = await liveCapture(tmp, BPF.http1, TARGET[name], () => startProc('wrk', 'wrk', wrkArgs, null), 'SIGINT');
      const served = await stopProc(server);
      renameSync(tmp, fileOf(name));
      const reqs = /(\d+) requests in ([\d.]+\w+)/.exec(r.loadOut);
      return {
        name,
        bytes: r.bytes,
        packets: r.packets,
        dropped: r.dropped,
        seconds: r.seconds,
        madeAt: new Date().toISOString(),
        commands: [
          `node dist/scripts/bench.js __child http1-server ${HTTP1_PORT}   # Node http server on ${HOST}:${HTTP1_PORT}, JSON bodies (scripts/bench-lib.ts http1Server)`,
          `tcpdump ${sh(tcpdumpArgs(`bench-data/${name}.pcap`, BPF.http1))}`,
          `wrk ${sh(wrkArgs.map((a) => (a === lua ? 'bench-data/.gen/http1.lua' : a)))}   # SIGINT once the file reached ${TARGET[name] / MB} MB`,
        ],
        notes: [`wrk: ${reqs ? `${reqs[1]} requests in ${reqs[2]}` : r.loadOut.split('\n').slice(0, 3).join(' ')}`, `server: ${served}`, ...(r.reachedTarget ? [] : [`stopped after ${MAX_CAPTURE_SECONDS} s before reaching the target size`])],
      };
    } catch (e) {
      await stopProc(server, 'SIGKILL');
      throw e;
    }
  });
}

async function makeH2c(): Promise<CaptureMeta> {
  const name: Name = 'h2c-300m';
  const uris = join(GEN, 'h2c-uris.txt');
  writeFileSync(uris, h2loadUris(H2_PORT));
  return withoutDrops(name, async (level) => {
    const server = await startProc('h2 server', process.execPath, childArgs('h2-server', H2_PORT), /^ready/m);
    const tmp = `${fileOf(name)}.tmp`;
    const h2Args = [
      '-t1',
      '-c8',
      '-m32',
      '-D600',
      ...(level > 0 ? [`--rps=${[0, 1500, 800][level]}`] : []),
      '-H',
      'user-agent: podcap-bench h2load/1.52',
      '-H',
      'accept: application/json',
      '-H',
      'accept-encoding: gzip, deflate, br',
      '-H',
      `authorization: Bearer ${FAKE_JWT}`,
      '-i',
      uris,
    ];
    try {
      const r = await liveCapture(tmp, BPF.h2c, TARGET[name], () => startProc('h2load', 'h2load', h2Args, null), 'SIGINT');
      const served = await stopProc(server);
      renameSync(tmp, fileOf(name));
      return {
        name,
        bytes: r.bytes,
        packets: r.packets,
        dropped: r.dropped,
        seconds: r.seconds,
        madeAt: new Date().toISOString(),
        commands: [
          `node dist/scripts/bench.js __child h2-server ${H2_PORT}   # Node http2.createServer (h2c, prior knowledge), JSON bodies (bench-lib.ts h2Server)`,
          `tcpdump ${sh(tcpdumpArgs(`bench-data/${name}.pcap`, BPF.h2c))}`,
          `h2load ${sh(h2Args.map((a) => (a === uris ? 'bench-data/.gen/h2c-uris.txt' : a.includes(FAKE_JWT) ? 'authorization: Bearer <fake JWT>' : a)))}   # SIGINT once the file reached ${TARGET[name] / MB} MB`,
        ],
        notes: [`server: ${served}`, ...(r.reachedTarget ? [] : [`stopped after ${MAX_CAPTURE_SECONDS} s before reaching the target size`])],
      };
    } catch (e) {
      await stopProc(server, 'SIGKILL');
      throw e;
    }
  });
}

async function makeGrpc(): Promise<CaptureMeta> {
  const name: Name = 'grpc-300m';
  return withoutDrops(name, async (level) => {
    const server = await startProc('grpc server', process.execPath, childArgs('grpc-server', GRPC_PORT, PROTO), /^ready/m);
    const tmp = `${fileOf(name)}.tmp`;
    const [channels, conc] = [[4, 32], [2, 16], [1, 8]][level]!;
    const loadArgs = childArgs('grpc-load', GRPC_PORT, PROTO, channels!, conc!);
    try {
      const r = await liveCapture(tmp, BPF.grpc, TARGET[name], () => startProc('grpc load', process.execPath, loadArgs, /^ready/m), 'SIGTERM');
      const served = await stopProc(server);
      renameSync(tmp, fileOf(name));
      return {
        name,
        bytes: r.bytes,
        packets: r.packets,
        dropped: r.dropped,
        seconds: r.seconds,
        madeAt: new Date().toISOString(),
        commands: [
          `node dist/scripts/bench.js __child grpc-server ${GRPC_PORT} fixtures/grpc/shop.proto   # @grpc/grpc-js server, shop.v1.Catalog/GetProduct (bench-lib.ts grpcServer)`,
          `tcpdump ${sh(tcpdumpArgs(`bench-data/${name}.pcap`, BPF.grpc))}`,
          `node dist/scripts/bench.js __child grpc-load ${GRPC_PORT} fixtures/grpc/shop.proto ${channels} ${conc}   # ${channels} channels x ${conc} unary calls in flight, 1 in 4 with include_image (a 12 KiB image in the response); SIGTERM once the file reached ${TARGET[name] / MB} MB (bench-lib.ts grpcLoad)`,
        ],
        notes: [`client: ${r.loadSummary}`, `server: ${served}`, ...(r.reachedTarget ? [] : [`stopped after ${MAX_CAPTURE_SECONDS} s before reaching the target size`])],
      };
    } catch (e) {
      await stopProc(server, 'SIGKILL');
      throw e;
    }
  });
}

async function dnsAnswers(ip: string): Promise<boolean> {
  const sock = dgram.createSocket('udp4');
  try {
    const q = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'kube-dns.kube-system.svc.cluster.local' }] });
    return await new Promise<boolean>((res) => {
      const timer = setTimeout(() => res(false), 300);
      sock.on('message', () => {
        clearTimeout(timer);
        res(true);
      });
      sock.send(q, 53, ip);
    });
  } finally {
    sock.close();
  }
}

async function makeDns(): Promise<CaptureMeta> {
  const name: Name = 'dns-100m';
  if (!(await haveTool('dnsmasq'))) throw new Error('dnsmasq is not installed (apt-get install dnsmasq-base)');
  return withoutDrops(name, async (level) => {
    const dnsmasq = await startProc('dnsmasq', 'dnsmasq', dnsmasqArgs(DNS_IP), null);
    try {
      for (let i = 0; !(await dnsAnswers(DNS_IP)); i++) {
        if (i > 30 || dnsmasq.proc.exitCode !== null) throw new Error(`dnsmasq does not answer on ${DNS_IP}:53:\n${dnsmasq.err()}`);
        await sleep(100);
      }
      const tmp = `${fileOf(name)}.tmp`;
      const [sockets, window] = [[8, 32], [4, 16], [2, 8]][level]!;
      const loadArgs = childArgs('dns-load', DNS_IP, sockets!, window!);
      const r = await liveCapture(tmp, BPF.dns, TARGET[name], () => startProc('dns load', process.execPath, loadArgs, /^ready/m), 'SIGTERM');
      renameSync(tmp, fileOf(name));
      const version = (await runCommand('dnsmasq', ['--version'])).split('\n')[0]!.replace(/\s+Copyright.*$/, '');
      return {
        name,
        bytes: r.bytes,
        packets: r.packets,
        dropped: r.dropped,
        seconds: r.seconds,
        madeAt: new Date().toISOString(),
        commands: [
          `dnsmasq ${sh(dnsmasqArgs(DNS_IP))}   # ${version}`,
          `tcpdump ${sh(tcpdumpArgs(`bench-data/${name}.pcap`, BPF.dns))}`,
          `node dist/scripts/bench.js __child dns-load ${DNS_IP} ${sockets} ${window}   # ${sockets} UDP sockets x ${window} queries in flight (A, AAAA, SRV, TXT, search-path NXDOMAINs, half with EDNS); SIGTERM once the file reached ${TARGET[name] / MB} MB (bench-lib.ts dnsLoad)`,
        ],
        notes: [`client: ${r.loadSummary}`, ...(r.reachedTarget ? [] : [`stopped after ${MAX_CAPTURE_SECONDS} s before reaching the target size`])],
      };
    } finally {
      await stopProc(dnsmasq);
    }
  });
}

function make3g(): CaptureMeta {
  const name: Name = 'http1-3g';
  const src = fileOf('http1-300m');
  const copies = Math.max(2, Math.round(TARGET[name] / statSync(src).size));
  const t = Date.now();
  const tmp = `${fileOf(name)}.tmp`;
  const r = replicatePcap(src, tmp, copies);
  renameSync(tmp, fileOf(name));
  chmodSync(fileOf(name), 0o644);
  const srcMeta = readMeta('http1-300m');
  return {
    name,
    bytes: statSync(fileOf(name)).size,
    packets: r.records,
    dropped: srcMeta?.dropped ?? null,
    seconds: (Date.now() - t) / 1000,
    madeAt: new Date().toISOString(),
    commands: [
      `${copies} copies of bench-data/http1-300m.pcap (made ${srcMeta?.madeAt ?? '?'}) written one after the other (bench-lib.ts replicatePcap): copy k has its timestamps shifted by k x ${Math.round(r.spanSec / copies)} s (the span plus 1 s; what editcap -t does) and its addresses 127.0.0.1 moved to 127.k.0.1, IP and TCP checksums adjusted (RFC 1624), so its connections collide with no other copy's`,
    ],
    notes: [`http1-300m was made with: ${srcMeta?.commands.join(' ; ') ?? '?'}`],
  };
}

async function makeMixed(): Promise<CaptureMeta> {
  const name: Name = 'mixed-300m';
  const t = Date.now();
  const start = pcapInfo(fileOf('http1-300m')).firstTs;
  const slices: string[] = [];
  const notes: string[] = [];
  for (const [src, bytes] of MIX) {
    const out = join(GEN, `slice-${src}.pcap`);
    const r = slicePcap(fileOf(src), out, bytes, start);
    slices.push(out);
    notes.push(`${src}: first ${fmtInt(r.records)} packets (${(r.bytes / MB).toFixed(0)} MB)`);
  }
  const tmp = `${fileOf(name)}.tmp`;
  await runCommand('mergecap', ['-F', 'pcap', '-w', tmp, ...slices]);
  for (const s of slices) rmSync(s, { force: true });
  renameSync(tmp, fileOf(name));
  chmodSync(fileOf(name), 0o644);
  return {
    name,
    bytes: statSync(fileOf(name)).size,
    packets: pcapInfo(fileOf(name)).records,
    dropped: 0,
    seconds: (Date.now() - t) / 1000,
    madeAt: new Date().toISOString(),
    commands: [
      `the first ${MIX.map(([n, b]) => `${b / MB} MB of ${n}`).join(', ')} (whole packets, bench-lib.ts slicePcap), each shifted in time to start at http1-300m's first packet (what editcap -t does)`,
      `mergecap -F pcap -w bench-data/${name}.pcap slice-http1-300m.pcap slice-h2c-300m.pcap slice-grpc-300m.pcap slice-dns-100m.pcap   # chronological merge`,
    ],
    notes,
  };
}

function readMeta(n: Name): CaptureMeta | null {
  try {
    const m = JSON.parse(readFileSync(metaOf(n), 'utf8')) as CaptureMeta;
    return existsSync(fileOf(n)) && statSync(fileOf(n)).size === m.bytes ? m : null;
  } catch {
    return null;
  }
}

async function makeCapture(n: Name): Promise<CaptureMeta> {
  log(`making ${n} (target ${TARGET[n] / MB} MB) [${elapsed()} into the run, load ${loadAvg()}]`);
  let m: CaptureMeta;
  if (n === 'http1-300m') m = await makeHttp1();
  else if (n === 'h2c-300m') m = await makeH2c();
  else if (n === 'grpc-300m') m = await makeGrpc();
  else if (n === 'dns-100m') m = await makeDns();
  else if (n === 'http1-3g') m = make3g();
  else m = await makeMixed();
  writeFileSync(metaOf(n), `${JSON.stringify(m, null, 2)}\n`);
  log(`made ${n}: ${(m.bytes / MB).toFixed(1)} MB, ${m.packets ?? '?'} packets, ${m.dropped ?? '?'} dropped by kernel, in ${m.seconds.toFixed(1)} s`);
  for (const note of m.notes) log(`  ${note}`);
  return m;
}

function freeBytes(dir: string): number {
  const out = execFileSync('df', ['-B1', '--output=avail', dir], { encoding: 'utf8' });
  return Number(out.trim().split('\n').pop());
}

// ---------------------------------------------------------------------------------------------
// Phase 2: measurements
// ---------------------------------------------------------------------------------------------

interface QueryResult {
  ms: number | null;
  runs: number[];
  matched: number | null;
  error: string | null;
}

interface Row {
  name: Name;
  bytes: number;
  load: string;
  importOk: boolean;
  importExit: string;
  importError: string | null;
  import: Measured | null;
  packets: number | null;
  transactions: number | null;
  byProtocol: Record<string, number> | null;
  workspaceBytes: number | null;
  indexed: QueryResult | null;
  scan: QueryResult | null;
  stats: QueryResult | null;
  /** On each capture but the 3 GB one: the same import with PODCAP_IMPORT_THREAD=always (the analysis thread beside the reading one). */
  importTwoThreads: Measured | null;
  /** The same queries timed inside one process (no start-up), ms per run. */
  inproc: { indexed: number[]; scan: number[]; stats: number[] } | null;
  inprocError: string | null;
  tshark: Measured | null;
  tsharkCounts: string | null;
  tsharkLoad: string;
}

async function warm(file: string): Promise<void> {
  await new Promise<void>((res, rej) => {
    const s = createReadStream(file, { highWaterMark: 8 << 20 });
    s.on('data', () => undefined);
    s.on('end', () => res());
    s.on('error', rej);
  });
}

async function timedQuery(args: string[], runs: number, json: boolean): Promise<QueryResult> {
  const times: number[] = [];
  let matched: number | null = null;
  const out = join(tmpdir(), `podcap-bench-q-${process.pid}.out`);
  for (let i = 0; i < runs && !(times.length > 0 && times[0]! > SLOW_QUERY_MS); i++) {
    const m = await measure(process.execPath, [MAIN, ...args], { stdoutFile: out, timeoutMs: 600_000 });
    if (m.exitCode !== 0) {
      const err = m.stderr.trim().split('\n').slice(-3).join(' / ');
      rmSync(out, { force: true });
      return { ms: null, runs: times, matched: null, error: `exit ${m.exitCode ?? m.signal}${m.timedOut ? ' (timed out)' : ''}: ${err}` };
    }
    times.push(m.wallMs);
    if (m.wallMs > SLOW_QUERY_MS && i + 1 < runs) log(`  (one run of \`${args.slice(0, 2).join(' ')}\` took ${(m.wallMs / 1000).toFixed(1)} s: not repeated, to stay within the time budget)`);
    if (json) {
      try {
        const v = JSON.parse(readFileSync(out, 'utf8')) as unknown;
        matched = Array.isArray(v) ? v.length : null;
      } catch {
        matched = null;
      }
    }
  }
  rmSync(out, { force: true });
  return { ms: median(times), runs: times, matched, error: null };
}

function tsharkSummary(name: Name, out: string): string {
  const num = (re: RegExp): string | null => re.exec(out)?.[1] ?? null;
  const parts: string[] = [];
  const http = num(/HTTP Request Packets\s+(\d+)/);
  if (http) parts.push(`${fmtInt(Number(http))} HTTP/1 requests, ${fmtInt(Number(num(/HTTP Response Packets\s+(\d+)/) ?? 0))} responses`);
  const headers = num(/^\s+HEADERS\s+(\d+)/m);
  if (headers) parts.push(`${fmtInt(Number(headers))} HTTP/2 HEADERS frames, ${fmtInt(Number(num(/^\s+DATA\s+(\d+)/m) ?? 0))} DATA frames`);
  const grpc = num(/<>\s+[\d.]+\s+\|\s+(\d+)\s+\|/);
  if (grpc && name !== 'h2c-300m') parts.push(`${fmtInt(Number(grpc))} gRPC messages`);
  const q = num(/^\s+Query\s+(\d+)/m);
  if (q) parts.push(`${fmtInt(Number(q))} DNS queries, ${fmtInt(Number(num(/^\s+Response\s+(\d+)/m) ?? 0))} responses`);
  return parts.join('; ') || '(no counts found in its output)';
}

async function benchCapture(n: Name, runs: number, withTshark: boolean, hasStats: boolean): Promise<Row> {
  const file = fileOf(n);
  const bytes = statSync(file).size;
  log(`measuring ${n} (${(bytes / MB).toFixed(0)} MB) [${elapsed()} into the run]`);
  await warm(file);
  const row: Row = { name: n, bytes, load: loadAvg(), importOk: false, importExit: '', importError: null, import: null, packets: null, transactions: null, byProtocol: null, workspaceBytes: null, indexed: null, scan: null, stats: null, importTwoThreads: null, inproc: null, inprocError: null, tshark: null, tsharkCounts: null, tsharkLoad: '' };
  const ws = mkdtempSync(join(tmpdir(), `podcap-bench-ws-${n}-`));
  const reportFile = join(tmpdir(), `podcap-bench-import-${process.pid}.json`);
  try {
    log(`  podcap import (load ${row.load})`);
    const imp = await measure(process.execPath, [MAIN, 'import', file, '--workspace', ws, '--json'], { stdoutFile: reportFile, timeoutMs: 3_600_000, trendEveryMs: 5000 });
    row.import = imp;
    row.importExit = imp.exitCode !== null ? `exit ${imp.exitCode}` : `${imp.signal}`;
    if (imp.exitCode === 0 || imp.exitCode === 3) {
      try {
        const rep = JSON.parse(readFileSync(reportFile, 'utf8')) as { report: { packets: number; transactions: Record<string, number> }; transactions: number };
        row.packets = rep.report.packets;
        row.transactions = rep.transactions;
        row.byProtocol = rep.report.transactions;
        row.importOk = true;
      } catch (e) {
        row.importError = `could not read the --json report: ${(e as Error).message}`;
      }
    } else {
      row.importError = `${row.importExit}${imp.timedOut ? ' (timed out)' : ''}; stderr (last lines): ${imp.stderr.trim().split('\n').slice(-15).join('\n')}`;
    }
    log(
      `  import: ${row.importExit}, ${(imp.wallMs / 1000).toFixed(1)} s, peak RSS ${(imp.peakRssKb / 1024).toFixed(0)} MB, cpu ${imp.userS ?? '?'}+${imp.sysS ?? '?'} s, ${row.packets ?? '?'} packets, ${row.transactions ?? '?'} transactions ${JSON.stringify(row.byProtocol)}`,
    );
    log(`  RSS trend (s, MB): ${imp.trend.map(([s, mb]) => `${s}:${mb}`).join(' ')}`);
    if (row.importError) log(`  IMPORT FAILED: ${row.importError}`);
    if (n !== 'http1-3g' && row.importOk) {
      // The same import with the analysis thread (which `auto` takes only with 4 idle cores): what it brings here, in the same run.
      const ws2 = mkdtempSync(join(tmpdir(), `podcap-bench-ws2-${n}-`));
      try {
        const two = await measure(process.execPath, [MAIN, 'import', file, '--workspace', ws2, '--json'], { timeoutMs: 3_600_000, env: { ...process.env, PODCAP_IMPORT_THREAD: 'always' } });
        row.importTwoThreads = two;
        log(`  import on two threads (PODCAP_IMPORT_THREAD=always): exit ${two.exitCode}, ${(two.wallMs / 1000).toFixed(1)} s, peak RSS ${(two.peakRssKb / 1024).toFixed(0)} MB, cpu ${two.userS ?? '?'}+${two.sysS ?? '?'} s`);
      } finally {
        rmSync(ws2, { recursive: true, force: true });
      }
    }
    if (row.importOk) {
      row.workspaceBytes = Number(execFileSync('du', ['-sb', ws], { encoding: 'utf8' }).split(/\s/)[0]);
      const w = ['--workspace', ws];
      row.indexed = await timedQuery(['calls', INDEXED_FILTER, '--json', '--limit', '100', ...w], runs, true);
      row.scan = await timedQuery(['calls', SCAN_FILTER, '--json', '--limit', '100', ...w], runs, true);
      row.stats = hasStats ? await timedQuery(['stats', '--json', ...w], runs, false) : null;
      log(`  queries: indexed ${qs(row.indexed)}, scan ${qs(row.scan)}, stats ${hasStats ? qs(row.stats) : 'n/a'}`);
      // A scan that took longer than SLOW_QUERY_MS as a process is not run again in-process (the time budget).
      const scanAgain = row.scan.ms !== null && row.scan.ms <= SLOW_QUERY_MS;
      const lat = await measure(process.execPath, [SELF, '__child', 'query-latency', ws, String(runs), hasStats ? 'stats' : 'nostats', scanAgain ? 'scan' : 'noscan'], { stdoutFile: reportFile, timeoutMs: 1_800_000 });
      try {
        if (lat.exitCode !== 0) throw new Error(`exit ${lat.exitCode ?? lat.signal}: ${lat.stderr.trim().split('\n').slice(-3).join(' / ')}`);
        row.inproc = JSON.parse(readFileSync(reportFile, 'utf8')) as Row['inproc'];
        const f = (xs: number[]): string => (xs.length ? `${median(xs).toFixed(1)} ms [${xs.map((x) => x.toFixed(1)).join(', ')}]` : 'n/a');
        log(`  in-process: indexed ${f(row.inproc!.indexed)}, scan ${f(row.inproc!.scan)}, stats ${f(row.inproc!.stats)}`);
      } catch (e) {
        row.inprocError = (e as Error).message;
        log(`  in-process query timing failed: ${row.inprocError}`);
      }
    }
  } finally {
    rmSync(ws, { recursive: true, force: true });
    rmSync(reportFile, { force: true });
  }
  if (withTshark) {
    row.tsharkLoad = loadAvg();
    log(`  tshark ${TSHARK_ARGS[n].join(' ')} (load ${row.tsharkLoad})`);
    const out = join(tmpdir(), `podcap-bench-tshark-${process.pid}.txt`);
    const t = await measure('tshark', ['-n', ...TSHARK_ARGS[n], '-r', file], { stdoutFile: out, timeoutMs: 3_600_000, trendEveryMs: 5000 });
    row.tshark = t;
    row.tsharkCounts = t.exitCode === 0 ? tsharkSummary(n, readFileSync(out, 'utf8')) : `tshark failed (${t.exitCode ?? t.signal}): ${t.stderr.trim().split('\n').slice(-3).join(' / ')}`;
    rmSync(out, { force: true });
    log(`  tshark: ${(t.wallMs / 1000).toFixed(1)} s, peak RSS ${(t.peakRssKb / 1024).toFixed(0)} MB; ${row.tsharkCounts}`);
  }
  return row;
}

const qs = (q: QueryResult | null): string => (!q ? 'n/a' : q.error ? `error (${q.error})` : `${q.ms!.toFixed(0)} ms [${q.runs.map((x) => x.toFixed(0)).join(', ')}]${q.matched !== null ? ` ${q.matched} rows` : ''}`);

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

interface Options {
  fresh: boolean;
  only: Name[] | null;
  skip3g: boolean;
  tshark: boolean;
  runs: number;
  genOnly: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { fresh: false, only: null, skip3g: false, tshark: true, runs: 3, genOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--fresh') o.fresh = true;
    else if (a === '--skip-3g') o.skip3g = true;
    else if (a === '--no-tshark') o.tshark = false;
    else if (a === '--gen-only') o.genOnly = true;
    else if (a === '--runs') o.runs = Math.max(1, Number(argv[++i]));
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice(7);
      for (const n of (v ?? '').split(',').filter(Boolean)) {
        if (!ORDER.includes(n as Name)) throw new Error(`--only: unknown capture ${n} (one of ${ORDER.join(', ')})`);
        (o.only ??= []).push(n as Name);
      }
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`usage: npm run bench -- [--fresh] [--only NAME[,NAME]]... [--skip-3g] [--no-tshark] [--runs N] [--gen-only]\ncaptures: ${ORDER.join(', ')}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

async function main(): Promise<void> {
  setLogPrefix('bench');
  const o = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('run as root (tcpdump on lo, dnsmasq on port 53)');
  const missing: string[] = [];
  for (const [tool, pkg] of [['tcpdump', 'tcpdump'], ['wrk', 'wrk'], ['h2load', 'nghttp2-client'], ['tshark', 'tshark'], ['mergecap', 'wireshark-common'], ['dnsmasq', 'dnsmasq-base'], ['/usr/bin/time', 'time']] as const) {
    if (!(await haveTool(tool))) missing.push(`${tool} (apt-get install ${pkg})`);
  }
  if (missing.length) throw new Error(`missing tools: ${missing.join(', ')}`);
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: npm run build`);
  mkdirSync(GEN, { recursive: true });
  const machine = await machineInfo((cmd, args) => runCommand(cmd, args));
  const loadStart = loadAvg();
  log(`${machine.nproc} x ${machine.model}, ${machine.ramGiB} GiB, node ${machine.node}; load average ${loadStart}`);

  // Which captures: the selected ones, and what they are made from.
  let selected: Name[] = o.only ?? [...ORDER];
  const skipped: string[] = [];
  if (o.skip3g && selected.includes('http1-3g')) {
    selected = selected.filter((n) => n !== 'http1-3g');
    skipped.push('http1-3g: skipped (--skip-3g)');
  }
  if (selected.includes('http1-3g')) {
    const free = freeBytes(DATA);
    // The file (unless it is there already) and its workspace (podcap 0.1 writes ~2.9 bytes per capture byte).
    const need = (readMeta('http1-3g') && !o.fresh ? 0 : TARGET['http1-3g'] * 1.05) + TARGET['http1-3g'] * 3.5;
    if (free < need) {
      selected = selected.filter((n) => n !== 'http1-3g');
      const msg = `http1-3g: SKIPPED, disk space is short: ${(free / 1e9).toFixed(1)} GB free on ${DATA}, it needs about ${(need / 1e9).toFixed(1)} GB (the 3 GB capture and its workspace; \`df -h ${DATA}\`)`;
      skipped.push(msg);
      log(msg);
    }
  }
  const needed = new Set<Name>();
  for (const n of selected) {
    for (const d of DEPENDS[n] ?? []) needed.add(d);
    needed.add(n);
  }

  // Phase 1.
  const genStart = Date.now();
  const metas = new Map<Name, CaptureMeta>();
  const reused = new Set<Name>();
  for (const n of ORDER.filter((x) => needed.has(x))) {
    const existing = readMeta(n);
    const remake = !existing || (o.fresh && selected.includes(n)) || (n === 'http1-3g' && o.fresh && selected.includes('http1-300m'));
    if (!remake) {
      metas.set(n, existing);
      reused.add(n);
      log(`reusing ${n}: ${(existing.bytes / MB).toFixed(1)} MB, made ${existing.madeAt} in ${existing.seconds.toFixed(1)} s (--fresh to make it again)`);
      continue;
    }
    metas.set(n, await makeCapture(n));
  }
  const genSeconds = (Date.now() - genStart) / 1000;
  log(`captures ready in ${genSeconds.toFixed(0)} s`);
  if (o.genOnly) process.exit(0);

  // Phase 2.
  const ver = await timedQuery(['--version'], 5, false);
  const hasStats = !/unknown command/.test(
    await new Promise<string>((res) => {
      const ws = mkdtempSync(join(tmpdir(), 'podcap-bench-probe-'));
      const p = spawn(process.execPath, [MAIN, 'stats', '--json', '--workspace', ws], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      p.on('exit', () => {
        rmSync(ws, { recursive: true, force: true });
        res(err);
      });
    }),
  );
  log(`podcap --version: ${qs(ver)} (process start-up); stats command: ${hasStats ? 'yes' : 'no'}`);
  const rows: Row[] = [];
  for (const n of ORDER.filter((x) => selected.includes(x))) rows.push(await benchCapture(n, o.runs, o.tshark, hasStats));
  const totalSeconds = (Date.now() - t0) / 1000;
  const md = report(rows, metas, reused, { machine, loadStart, loadEnd: loadAvg(), genSeconds, totalSeconds, ver, hasStats, skipped, withTshark: o.tshark, runs: o.runs });
  writeFileSync(join(DATA, 'results.md'), md);
  writeFileSync(join(DATA, 'results.json'), `${JSON.stringify({ machine, loadStart, genSeconds, totalSeconds, startupMs: ver.ms, hasStats, rows, captures: Object.fromEntries(metas) }, null, 2)}\n`);
  process.stdout.write(`\n${md}`);
  log(`wrote ${join('bench-data', 'results.md')} and results.json; total ${totalSeconds.toFixed(0)} s`);
  process.exit(0);
}

function report(
  rows: Row[],
  metas: Map<Name, CaptureMeta>,
  reused: Set<Name>,
  x: { machine: Awaited<ReturnType<typeof machineInfo>>; loadStart: string; loadEnd: string; genSeconds: number; totalSeconds: number; ver: QueryResult; hasStats: boolean; skipped: string[]; withTshark: boolean; runs: number },
): string {
  const m = x.machine;
  const na = 'n/a';
  const q = (r: QueryResult | null, missingWhy: string): string => (!r ? missingWhy : r.error ? 'error' : `${fmtInt(r.ms!)}${r.runs.length < x.runs ? ` (${r.runs.length} run)` : ''}`);
  const header = ['capture', 'size', 'packets', 'transactions', 'podcap import s', 'MB/s', 'packets/s', 'tx/s', 'peak RSS MB', 'tshark s', 'tshark peak RSS MB', 'ratio', 'indexed query ms', 'scan query ms', 'stats ms'];
  // In-process latency first (the query itself), then the whole process (start-up included).
  const both = (inproc: number[] | undefined, r: QueryResult | null): string => {
    const whole = q(r, na);
    return inproc && inproc.length ? `${fmtInt(median(inproc))} / ${whole}` : whole;
  };
  const body = rows.map((r) => {
    const imp = r.import;
    const s = imp ? imp.wallMs / 1000 : NaN;
    const ok = r.importOk && imp;
    const ts = r.tshark && r.tshark.exitCode === 0 ? r.tshark.wallMs / 1000 : null;
    return [
      r.name,
      `${fmt1(r.bytes / MB)} MB`,
      r.packets !== null ? fmtInt(r.packets) : na,
      r.transactions !== null ? fmtInt(r.transactions) : na,
      ok ? fmt1(s) : `FAILED (${r.importExit})`,
      ok ? fmt1(r.bytes / MB / s) : na,
      ok && r.packets !== null ? fmtInt(r.packets / s) : na,
      ok && r.transactions !== null ? fmtInt(r.transactions / s) : na,
      imp ? fmtInt(imp.peakRssKb / 1024) : na,
      ts !== null ? fmt1(ts) : x.withTshark ? 'failed' : 'skipped',
      ts !== null ? fmtInt(r.tshark!.peakRssKb / 1024) : na,
      ts !== null && ok ? `${(ts / s).toFixed(2)}` : na,
      both(r.inproc?.indexed, r.indexed),
      both(r.inproc?.scan, r.scan),
      x.hasStats ? both(r.inproc?.stats, r.stats) : 'n/a (no stats command)',
    ];
  });
  const out: string[] = [];
  out.push('## podcap benchmark', '');
  out.push(
    `Machine: ${m.nproc} × ${m.model}, ${m.ramGiB} GiB RAM, Linux ${m.kernel}; Node ${m.node}; ${m.tshark.replace(/\.$/, '')}; ${m.tcpdump}. Run ${m.date}, ` +
      `load average (1/5/15 min) ${x.loadStart} at the start, ${x.loadEnd} at the end (other work was running on the machine when the load is above 0). ` +
      `Captures made in ${x.genSeconds.toFixed(0)} s${reused.size ? ` (reused: ${[...reused].join(', ')})` : ''}; whole run ${x.totalSeconds.toFixed(0)} s.`,
    '',
  );
  out.push(markdownTable(header, body, header.map((_, i) => i > 0)), '');
  out.push(
    'MB = 10^6 bytes of capture file; peak RSS in MiB ("Maximum resident set size" from /usr/bin/time -v, or the process tree sampled every 100 ms if larger). ' +
      `ratio = tshark s / podcap import s (above 1: podcap is faster). Times are wall clock. Query columns read \`A / B\`: A is the query inside one process (the CLI's runCommand after one warm-up run: workspace opened, filter planned, rows read, JSON produced), B the whole \`podcap\` process; both the median of ${x.runs} runs, ` +
      `except that a query whose first run takes over ${SLOW_QUERY_MS / 1000} s is run once (marked "1 run"), ` +
      `B includes the process start-up: \`podcap --version\` takes ${x.ver.ms !== null ? `${x.ver.ms.toFixed(0)} ms` : '?'} (median of 5).`,
    '',
  );
  out.push('Commands measured, per capture FILE:', '');
  out.push('- import: `node dist/src/main.js import FILE --workspace <fresh temp dir> --json` (packets: report.packets; transactions: the snapshot\'s count)');
  out.push(`- indexed query: \`node dist/src/main.js calls '${INDEXED_FILTER}' --json --limit 100 --workspace WS\``);
  out.push(`- scan query: \`node dist/src/main.js calls '${SCAN_FILTER}' --json --limit 100 --workspace WS\` (matches nothing: every record is decoded and evaluated)`);
  out.push(x.hasStats ? '- stats: `node dist/src/main.js stats --json --workspace WS`' : '- stats: n/a, this build of podcap has no `stats` command');
  for (const n of ORDER.filter((k) => rows.some((r) => r.name === k))) out.push(`- tshark on ${n}: \`tshark -n ${sh(TSHARK_ARGS[n])} -r FILE\``);
  out.push('');
  const dh = ['capture', 'podcap CPU s (user+sys)', 'CPU/wall', 'workspace MB', 'podcap transactions by protocol', 'tshark counted', 'tshark CPU s', 'load avg at import / tshark', 'rows (indexed/scan)', 'import on two threads: s, peak RSS MB'];
  const drows = rows.map((r) => {
    const i = r.import;
    const cpu = i && i.userS !== null && i.sysS !== null ? i.userS + i.sysS : null;
    const tc = r.tshark && r.tshark.userS !== null && r.tshark.sysS !== null ? r.tshark.userS + r.tshark.sysS : null;
    return [
      r.name,
      cpu !== null ? fmt1(cpu) : na,
      cpu !== null && i ? (cpu / (i.wallMs / 1000)).toFixed(2) : na,
      r.workspaceBytes !== null ? fmtInt(r.workspaceBytes / MB) : na,
      r.byProtocol ? Object.entries(r.byProtocol).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') : na,
      r.tsharkCounts ?? na,
      tc !== null ? fmt1(tc) : na,
      `${r.load.split(' ')[0]} / ${r.tsharkLoad.split(' ')[0] || na}`,
      `${r.indexed?.matched ?? na}/${r.scan?.matched ?? na}`,
      r.importTwoThreads && r.importTwoThreads.exitCode === 0 ? `${fmt1(r.importTwoThreads.wallMs / 1000)} s, ${fmtInt(r.importTwoThreads.peakRssKb / 1024)}` : na,
    ];
  });
  out.push('Details:', '', markdownTable(dh, drows), '');
  const failures = rows.filter((r) => r.importError || r.indexed?.error || r.scan?.error || r.stats?.error);
  if (failures.length) {
    out.push('Failures:', '');
    for (const r of failures) {
      if (r.importError) out.push(`- ${r.name} import: ${r.importError.replace(/\n/g, ' ⏎ ')}`, `  RSS trend (s:MB): ${r.import?.trend.map(([s, mb]) => `${s}:${mb}`).join(' ') ?? ''}`);
      for (const [k, v] of [['indexed query', r.indexed], ['scan query', r.scan], ['stats', r.stats]] as const) if (v?.error) out.push(`- ${r.name} ${k}: ${v.error}`);
    }
    out.push('');
  }
  for (const s of x.skipped) out.push(`- ${s}`);
  if (x.skipped.length) out.push('');
  out.push('How each capture was made (real traffic on loopback; `npm run bench -- --fresh` makes them again):', '');
  for (const n of ORDER) {
    const c = metas.get(n);
    if (!c) continue;
    out.push(`- **${n}** (${(c.bytes / MB).toFixed(1)} MB, ${c.packets !== null ? fmtInt(c.packets) : '?'} packets, ${c.dropped ?? '?'} dropped by the kernel, made in ${c.seconds.toFixed(1)} s on ${c.madeAt.slice(0, 19)}Z${reused.has(n) ? ', reused' : ''}):`);
    for (const cmd of c.commands) out.push(`  - \`${cmd}\``);
    for (const note of c.notes) out.push(`  - ${note}`);
  }
  out.push('');
  return out.join('\n');
}

if (process.argv[2] === '__child') {
  runChild(process.argv.slice(3)).catch((e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  });
} else {
  main().catch((e: unknown) => {
    log(`FAILED: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    process.exit(1);
  });
}
