import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: tests run from dist/test/, compiled from test/. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const fixturesDir = join(repoRoot, 'fixtures');

/** The shared public corpus lives beside the checkout, never inside it. */
export const corpusDir = process.env.PODCAP_CORPUS ?? resolve(repoRoot, '..', 'shared', 'corpus');
export const corpusPresent = existsSync(join(corpusDir, 'expected.json'));
/** Pass as `{ skip: corpusSkip }` to a test that reads the corpus. */
export const corpusSkip: string | false = corpusPresent
  ? false
  : `public corpus not found at ${corpusDir} (set PODCAP_CORPUS to its path to run these tests)`;

export function corpusFile(rel: string): string {
  return join(corpusDir, rel);
}

/** Every capture file (or tar) below a folder, in name order; none when the folder is absent. */
export function captureFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(pcap|pcapng|cap|pcap\.gz|pcapng\.gz|tar|tar\.gz|tgz)$/i.test(name)) out.push(p);
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}
