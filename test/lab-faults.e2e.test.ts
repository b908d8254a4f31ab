import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseFaultSpec, type ScheduledFault, scheduleFaults } from '@cachelab/lab/lab/faults.ts';
import { runHistory, type WorkloadOptions } from '@cachelab/lab/lab/workload.ts';
import { NOTHING_LISTENS_URL, startRedisServer, waitFor } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// A fault that fails while the sessions still run (a Redis restarted under a CLIENT KILL resets
// its connection: `read ECONNRESET`) must be recorded in the history, never end the lab with an
// unhandled rejection. The sessions run against an address where nothing listens: their reads
// fail at once and are recorded, which is all these tests need of them.
function options(faults: ScheduledFault[]): WorkloadOptions {
  return {
    targets: [{ name: 'app-1', url: NOTHING_LISTENS_URL }],
    strategy: 'versioned',
    seed: 1,
    sessions: 1,
    keys: 5,
    writeRatio: 0,
    durationMs: 800,
    tokenSessions: 0,
    quietMs: 0,
    faults,
  };
}

/** Whether a TCP connection to `port` on this host is established (`ss`). */
async function connectedTo(port: number): Promise<boolean> {
  const { stdout } = await run('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`]);
  return stdout.trim().length > 0;
}

describe('lab faults that fail', () => {
  it('records a fault whose start rejects while the sessions run, and the run goes on', async () => {
    const fault: ScheduledFault = {
      kind: 'kill-pubsub',
      spec: 'kill-pubsub@0ms',
      atMs: 0,
      start: () => Promise.reject(new Error('read ECONNRESET')),
    };
    const history = await runHistory(options([fault]));
    expect(history.faults).toEqual([
      expect.objectContaining({
        kind: 'kill-pubsub',
        error: 'read ECONNRESET',
        detail: 'failed: read ECONNRESET',
      }),
    ]);
    // The sessions went on after the fault failed, to the end of the run.
    const lastInvoke = Math.max(...history.operations.map((op) => op.invokeMs));
    expect(lastInvoke).toBeGreaterThan(history.faults[0]?.endMs ?? Infinity);
  });

  it('records kill-pubsub whose Redis dies while its command waits for the answer', async () => {
    const redis = await startRedisServer();
    try {
      // Stopped: the kernel still accepts the fault's connection, nobody answers its commands.
      redis.process().kill('SIGSTOP');
      const [fault] = scheduleFaults([parseFaultSpec('kill-pubsub@0ms')], {
        redisUrl: redis.url,
      });
      if (!fault) throw new Error('no fault scheduled');
      const running = runHistory(options([fault]));
      await waitFor(() => connectedTo(redis.port), { what: 'the fault to connect' });
      // Killed with the fault's command unread: the connection is reset under it.
      await redis.kill('SIGKILL');
      const history = await running;
      expect(history.faults).toHaveLength(1);
      expect(history.faults[0]?.error).toMatch(/ECONNRESET|closed/i);
      expect(history.faults[0]?.endMs).toBeDefined();
    } finally {
      await redis.kill('SIGKILL');
    }
  });
});
