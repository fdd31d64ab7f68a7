import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { busyBetween, otherBusyCores } from '../src/store/cpu-load.js';

test('busy cores: all cores\' busy time less this process\'s own, per elapsed time', () => {
  assert.equal(busyBetween({ at: 0, busy: 0, own: 0 }, { at: 100, busy: 150, own: 100 }), 0.5);
  assert.equal(busyBetween({ at: 0, busy: 0, own: 0 }, { at: 200, busy: 400, own: 0 }), 2);
  // The counters tick coarser than process.cpuUsage: own time may read above the cores' total.
  assert.equal(busyBetween({ at: 0, busy: 10, own: 0 }, { at: 100, busy: 20, own: 30 }), 0);
  assert.equal(busyBetween({ at: 5, busy: 0, own: 0 }, { at: 5, busy: 10, own: 0 }), 0);
});

test('busy cores: another process spinning is seen now, not a minute later', async () => {
  const child = spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end);'], { stdio: 'ignore' });
  try {
    await sleep(200);
    await otherBusyCores();
    await sleep(400);
    const busy = await otherBusyCores();
    // The spinner alone keeps most of a core busy (the suite's other files may add to it).
    assert.ok(busy >= 0.4, `a spinning process read as ${busy.toFixed(2)} busy cores`);
  } finally {
    child.kill();
  }
});
