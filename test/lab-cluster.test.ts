import { readdirSync, readFileSync } from 'node:fs';
import { nanoid } from 'nanoid';
import { afterEach, describe, expect, it } from 'vitest';
import { type LabCluster, startLabCluster } from '../scripts/lab/cluster.ts';
import { waitFor } from './support/index.ts';
import { runNodeScript, signalProcess } from './support/process.ts';

// The lab's and the demos' own processes (instances, database, redis-server) must never outlive
// the run that started them, however it ends; and restarting an instance must not depend on
// catching its `exit` event.

const MARK = 'CACHELAB_PROCESS_MARK';

/** Pids of the processes (other than this one) whose environment holds `MARK=mark`. */
function marked(mark: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // A zombie has exited already; it only waits for its parent to reap it.
      if (environ.includes(`${MARK}=${mark}`) && !/^\d+ \(.*\) Z /.test(stat)) found.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Runs `run` with `MARK` set in this process's environment, which every child inherits. */
async function withMark<T>(run: (mark: string) => Promise<T>): Promise<T> {
  const mark = nanoid(10);
  process.env[MARK] = mark;
  try {
    return await run(mark);
  } finally {
    delete process.env[MARK];
  }
}

const clusters: LabCluster[] = [];
afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.stop();
});

const settings = { instances: 1, strategy: 'versioned', dbLatencyMs: 0, seedUsers: 10 };

describe('the lab cluster', () => {
  it('restarts an instance whose process has already exited', async () => {
    const cluster = await startLabCluster(settings);
    clusters.push(cluster);
    const [instance] = cluster.instances;
    if (!instance) throw new Error('no instance');
    await signalProcess(instance.process(), 'SIGKILL');
    await instance.restart();
    expect((await fetch(`${instance.url}/readyz`)).ok).toBe(true);
  }, 90_000);

  it('stops everything it started when an instance never becomes ready, and says so', async () => {
    await withMark(async (mark) => {
      const started = Date.now();
      await expect(
        startLabCluster({ ...settings, env: { LOG_LEVEL: 'not-a-level' } }),
      ).rejects.toThrow(/exited \(1\) before it was ready/);
      // At once, not after the 60 s the readiness wait allows.
      expect(Date.now() - started).toBeLessThan(30_000);
      await waitFor(() => marked(mark).length === 0, {
        timeoutMs: 10_000,
        what: 'every process of the cluster to exit',
      });
    });
  }, 90_000);

  it.each([
    ['the lab', 'scripts/consistency.ts', ['history', '--start', '--duration', '60s']],
    ['a demo', 'scripts/demos/warmup.ts', ['--phase', '60s']],
  ])(
    'leaves no process behind when %s is interrupted',
    async (_what, script, args) => {
      await withMark(async (mark) => {
        // Interrupted (SIGINT) while it starts its cluster or runs, as a timeout would.
        const run = await runNodeScript(script, args, { timeoutMs: 8000 });
        expect(run.code, run.output).not.toBe(0);
        await waitFor(() => marked(mark).length === 0, {
          timeoutMs: 10_000,
          what: `every process ${script} started to exit`,
        });
      });
    },
    90_000,
  );
});
