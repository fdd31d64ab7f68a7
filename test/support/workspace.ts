import { after, before } from 'node:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importSnapshot, type ImportOptions } from '../../src/store/import.js';
import { Workspace } from '../../src/store/workspace.js';
import { fixturesDir } from './paths.js';

/**
 * A workspace in a fresh directory for the enclosing describe: opened before its tests, closed
 * and removed after them. Read `ws` and `dir` inside the tests (they are set by then).
 */
export function suiteWorkspace(prefix: string): { readonly dir: string; readonly ws: Workspace } {
  const held = {} as { dir: string; ws: Workspace };
  before(async () => {
    held.dir = mkdtempSync(join(tmpdir(), prefix));
    held.ws = await Workspace.open(held.dir);
  });
  after(async () => {
    await held.ws.close();
    rmSync(held.dir, { recursive: true, force: true });
  });
  return held;
}

/** The sample incident's directory, and the skip reason for tests that need it when it has not been made. */
export const sampleDir = join(fixturesDir, 'sample');
export const sampleSkip: string | false = existsSync(join(sampleDir, 'capture.pcap')) ? false : 'fixtures/sample not made yet';

/**
 * suiteWorkspace with the sample incident imported as snapshot "sample" before the suite's own
 * hooks run; `id` is its snapshot id.
 */
export function suiteSample(prefix: string, opts: ImportOptions = {}): { readonly dir: string; readonly ws: Workspace; readonly id: string } {
  const held = suiteWorkspace(prefix) as { dir: string; ws: Workspace; id: string };
  before(async () => {
    held.id = (await importSnapshot(held.ws, [sampleDir], { name: 'sample', ...opts })).id;
  });
  return held;
}
