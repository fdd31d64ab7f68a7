import { after, before } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Workspace } from '../../src/store/workspace.js';

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
