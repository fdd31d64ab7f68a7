/**
 * How many cores other processes keep busy right now: what decides whether import takes a
 * second thread. The 1-minute load average answered this before, and it lags: just after
 * another heavy command ends (tshark, a build, the previous import) it still reads above 1 on an
 * idle machine, and import then ran on one thread for no reason. This reads the kernel's
 * per-core time counters twice, at least WINDOW_MS apart, and takes away this process's own use.
 */
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Shortest stretch worth reading: the counters tick every 10 ms per core. */
const WINDOW_MS = 100;
/** A reading older than this says nothing about now (a long-running MCP server). */
const STALE_MS = 2000;

export interface Reading {
  /** Monotonic time, ms. */
  at: number;
  /** Busy time summed over the cores, ms. */
  busy: number;
  /** This process's CPU time, ms. */
  own: number;
}

function read(): Reading {
  let busy = 0;
  for (const c of cpus()) busy += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  const u = process.cpuUsage();
  return { at: performance.now(), busy, own: (u.user + u.system) / 1000 };
}

// The first reading is taken as the module loads, early in a CLI command: by the time import
// decides (its inputs listed, the manifest read), the window has usually passed with no wait.
let last = read();

/** Cores busy with other processes' work since the last reading (waiting WINDOW_MS for one if need be). */
export async function otherBusyCores(): Promise<number> {
  let now = read();
  if (now.at - last.at > STALE_MS) {
    last = now;
    await sleep(WINDOW_MS);
    now = read();
  } else if (now.at - last.at < WINDOW_MS) {
    await sleep(WINDOW_MS - (now.at - last.at));
    now = read();
  }
  const busy = busyBetween(last, now);
  last = now;
  return busy;
}

/** Cores kept busy by others between two readings: all cores' busy time less this process's, per elapsed ms. */
export function busyBetween(a: Reading, b: Reading): number {
  const elapsed = b.at - a.at;
  if (elapsed <= 0) return 0;
  return Math.max(0, (b.busy - a.busy - (b.own - a.own)) / elapsed);
}
