/**
 * A reader that stops reading (`podcap calls | head -1`, a pager quit early) ends podcap's
 * output quietly: exit code 0 and nothing on stderr but what the command itself says, not a
 * stack trace for EPIPE.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fixturesDir } from './support/paths.js';
import { podcap, podcapBin, tempWorkspace } from './support/cli.js';

describe('output into a pipe closed early', () => {
  let ws: { dir: string; cleanup: () => void };
  before(() => {
    ws = tempWorkspace();
    const r = podcap(['import', '-w', ws.dir, join(fixturesDir, 'sample')]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => ws.cleanup());

  for (const args of [['calls', '--limit', '5000'], ['calls', '--json', '--limit', '5000'], ['stats', '--json']]) {
    it(`podcap ${args.join(' ')} | true`, () => {
      // `true` exits at once without reading: podcap's writes meet a closed pipe (EPIPE).
      const cmd = `"${process.execPath}" "${podcapBin}" ${args.join(' ')} -w "${ws.dir}" | true; echo "status $\{PIPESTATUS[0]}" >&2`;
      const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
      assert.match(r.stderr, /status 0\n$/, r.stderr);
      assert.doesNotMatch(r.stderr, /EPIPE|node:events|Error/);
    });
  }
});
