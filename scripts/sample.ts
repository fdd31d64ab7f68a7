/**
 * `npm start`: the main job on the bundled sample snapshot (fixtures/sample: a
 * small shop's capture and its cluster manifest, see its README). Imports it into a
 * workspace of its own (.podcap/ in the checkout), then lists the transactions and
 * the failures with the podcap command itself, showing each command it runs, and
 * ends by writing the incident's report (Markdown and HTML) beside the workspace.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'dist', 'src', 'main.js');
const workspace = join(root, '.podcap');
const sample = join(root, 'fixtures', 'sample');
const protos = join(root, 'fixtures', 'sample', 'protos');

function run(args: string[]): number {
  const shown = args.map((a) => (/[\s&|<>()"'!]/.test(a) ? `'${a}'` : a)).join(' ');
  process.stdout.write(`\n$ podcap ${shown.replaceAll(`${root}/`, '')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: 'inherit', cwd: root });
  return r.status ?? 1;
}

rmSync(workspace, { recursive: true, force: true });
const ws = ['--workspace', relative(root, workspace)];
function step(args: string[]): void {
  const code = run(args);
  if (code !== 0) {
    process.stderr.write(`sample: podcap ${args[0]} exited with ${code}\n`);
    process.exit(code);
  }
}

step(['import', relative(root, sample), '--name', 'sample', '--proto', relative(root, protos), ...ws]);
step(['calls', '--limit', '15', ...ws]);
step(['calls', 'failed && !dns', '--limit', '12', ...ws]);
step(['calls', 'dns && failed', ...ws]);
// The first failure in full: what a user looks at next.
const failed = spawnSync(process.execPath, [bin, 'calls', 'grpc && failed', '--json', '--limit', '1', ...ws], { cwd: root, encoding: 'utf8' });
const first = (JSON.parse(failed.stdout) as Array<{ id: string }>)[0];
if (first) step(['show', first.id, ...ws]);
// The report to attach to the ticket, in both formats.
const reportMd = join(workspace, 'report.md');
const reportHtml = join(workspace, 'report.html');
step(['report', '--format', 'md', '--out', relative(root, reportMd), ...ws]);
step(['report', '--format', 'html', '--out', relative(root, reportHtml), ...ws]);
process.stdout.write(`\nThe sample incident's report: ${relative(process.cwd(), reportHtml)} (open it in a browser) and ${relative(process.cwd(), reportMd)} (paste it into a ticket).\n`);
process.stdout.write(`\nThe sample workspace is in ${relative(process.cwd(), workspace) || '.'}/: try\n`
  + `  node dist/src/main.js show <ID> ${ws.join(' ')}\n`
  + `  node dist/src/main.js calls 'src.workload.name == "checkout" && failed' ${ws.join(' ')}\n`
  + `  node dist/src/main.js calls 'http && !("authorization" in request.headers)' ${ws.join(' ')}\n`);
