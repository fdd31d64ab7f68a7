/**
 * bench-report: how long `podcap report` takes on a large snapshot, and how big the report is.
 *
 *   npm run build && node dist/scripts/bench-report.js [CAPTURE] [--workspace DIR] [--runs N]
 *
 * CAPTURE defaults to bench-data/http1-3g.pcap (made by `npm run bench`: 2.55 million real HTTP/1
 * exchanges). It is imported into DIR (default: a fresh temporary workspace, removed at the end) unless
 * DIR already holds a snapshot; then `podcap report --format html` and `--format md` run as whole
 * processes (median of --runs, default 3), and the time and the size of each report are printed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'dist', 'src', 'main.js');
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : undefined;
};
const given = opt('--workspace');
const runs = Number(opt('--runs') ?? 3);
const capture = args[0] ?? join(root, 'bench-data', 'http1-3g.pcap');
const ws = given ?? mkdtempSync(join(tmpdir(), 'podcap-bench-report-'));

function podcap(a: string[]): { code: number; out: string; err: string; seconds: number } {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...a], { encoding: 'utf8', maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
}

try {
  let snaps = JSON.parse(podcap(['snapshots', '--json', '--workspace', ws]).out || '[]') as Array<{ id: string; transactions: number }>;
  if (snaps.length === 0) {
    if (!existsSync(capture)) throw new Error(`${capture} not found: make it with npm run bench -- --gen-only --only http1-3g, or name a capture`);
    process.stdout.write(`importing ${capture} into ${ws} ...\n`);
    const imp = podcap(['import', capture, '--workspace', ws, '--json']);
    if (imp.code !== 0 && imp.code !== 3) throw new Error(`import failed (${imp.code}): ${imp.err}`);
    process.stdout.write(`  imported in ${imp.seconds.toFixed(1)} s\n`);
    snaps = JSON.parse(podcap(['snapshots', '--json', '--workspace', ws]).out) as typeof snaps;
  }
  const calls = snaps.reduce((n, s) => n + s.transactions, 0);
  process.stdout.write(`workspace ${ws}: ${snaps.length} snapshot(s), ${calls.toLocaleString('en')} transactions; load ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  for (const format of ['html', 'md'] as const) {
    const out = join(ws, `report.${format}`);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = podcap(['report', '--format', format, '--out', out, '--workspace', ws]);
      if (r.code !== 0) throw new Error(`report failed (${r.code}): ${r.err}`);
      times.push(r.seconds);
    }
    times.sort((a, b) => a - b);
    process.stdout.write(`report --format ${format}: ${times[Math.floor(times.length / 2)].toFixed(2)} s (median of ${runs}: ${times.map((t) => t.toFixed(2)).join(', ')}), ${statSync(out).size.toLocaleString('en')} bytes\n`);
  }
} finally {
  if (!given) rmSync(ws, { recursive: true, force: true });
}
