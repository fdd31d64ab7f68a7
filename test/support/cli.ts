import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../src/cli/commands.js';
import { repoRoot } from './paths.js';

export const podcapBin = join(repoRoot, 'dist', 'src', 'main.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the podcap command as a user would, in a child process. */
export function podcap(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): RunResult {
  const r = spawnSync(process.execPath, [podcapBin, ...args], {
    encoding: 'utf8',
    cwd,
    env: { ...process.env, ...env },
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run a podcap command in this process (no start-up cost): its exit code and what it printed. */
export async function runCli(args: string[]): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCommand(args[0], args.slice(1), { out: (s) => { stdout += `${s}\n`; }, err: (s) => { stderr += `${s}\n`; } });
  return { code, stdout, stderr };
}

/** A fresh workspace directory, removed by the returned cleanup. */
export function tempWorkspace(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'podcap-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
