import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  databaseListening,
  type LabCluster,
  startLabCluster,
  waitReady,
} from '@cachelab/lab/lab/cluster.ts';
import { signalProcess, waitFor } from '@cachelab/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { LAB_CLI } from './support/lab.ts';

// The lab's and the demos' own processes (instances, database, redis-server) must never outlive
// the run that started them, however it ends; and restarting an instance must not depend on
// catching its `exit` event.

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/**
 * Live processes of process group `group` (zombies excluded: they have exited). redis-server
 * rewrites its command line and environment, so processes are told by their group, not by name.
 */
function inGroup(group: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === group && state !== 'Z') found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/**
 * Runs `cachelab-lab <command>` under tsx in a process group of its own (everything it starts
 * joins it), sends SIGINT to that process alone after `interruptMs`, and waits for it to exit.
 */
async function runInOwnGroup(
  command: string,
  args: string[],
  options: { interruptMs: number; env?: Record<string, string> },
) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', LAB_CLI, ...command.split(' '), ...args],
    {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit');
  const timer = setTimeout(() => child.kill('SIGINT'), options.interruptMs);
  const [code] = (await exited) as [number | null];
  clearTimeout(timer);
  const group = child.pid as number;
  try {
    await waitFor(() => inGroup(group).length === 0, {
      timeoutMs: 10_000,
      what: `every process ${command} started to exit`,
    });
  } finally {
    // Whatever the assertion found, nothing of this test may outlive it.
    for (const pid of inGroup(group)) process.kill(pid, 'SIGKILL');
  }
  return { code, output };
}

const clusters: LabCluster[] = [];
afterEach(async () => {
  for (const cluster of clusters.splice(0)) await cluster.stop();
});

describe('the lab cluster', () => {
  it('restarts an instance whose process has already exited', async () => {
    const cluster = await startLabCluster({
      instances: 1,
      strategy: 'versioned',
      dbLatencyMs: 0,
      seedUsers: 10,
    });
    clusters.push(cluster);
    const [instance] = cluster.instances;
    if (!instance) throw new Error('no instance');
    await signalProcess(instance.process(), 'SIGKILL');
    await instance.restart();
    expect((await fetch(`${instance.url}/readyz`)).ok).toBe(true);
  }, 90_000);

  it('stops the lab at once, and everything it started, when an instance never becomes ready', async () => {
    const started = Date.now();
    const run = await runInOwnGroup('consistency', ['history', '--start'], {
      interruptMs: 60_000,
      // Every instance refuses this setting and exits at start.
      env: { LOG_LEVEL: 'not-a-level' },
    });
    expect(run.code, run.output).not.toBe(0);
    expect(run.output).toMatch(/exited \(1\) before it was ready/);
    // Not after the 60 s the readiness wait allows.
    expect(Date.now() - started).toBeLessThan(40_000);
  }, 90_000);

  it.each([
    ['the lab', 'consistency', ['history', '--start', '--duration', '60s']],
    ['a demo', 'demo warmup', ['--phase', '60s']],
  ])(
    'leaves no process behind when %s is interrupted',
    async (_what, command, args) => {
      // Interrupted (SIGINT) while it starts its cluster or runs, as a timeout would.
      const run = await runInOwnGroup(command, args, { interruptMs: 8000 });
      expect(run.code, run.output).not.toBe(0);
    },
    90_000,
  );

  it("never takes another process on its instance's port for its instance", async () => {
    // The lab picks a free port, then its instance needs seconds to listen there. Meanwhile any
    // process may take the port — a test's app on port 0 answers /readyz 200 without a run token,
    // over the tests' shared database — and the lab must not run its workload (lab@example.com
    // writes to users 1…N) through it.
    const server = createServer((_req, res) => res.writeHead(200).end('{"status":"ready"}'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // Stands for the lab's own instance, still starting.
    const starting = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: 'ignore',
    });
    try {
      await expect(waitReady(url, starting, 'run-of-this-lab')).rejects.toThrow(
        `${url} is answered by a process the lab did not start (an instance of another cluster answers there (no run token))`,
      );
    } finally {
      await signalProcess(starting, 'SIGKILL');
      server.close();
    }
  });

  it('is not ready until its own database listens on its port, and stops if that database cannot', async () => {
    // Stands for the lab's database finding its port taken (by another test's database, which
    // the lab's instances would otherwise seed and write): it says so and exits.
    const refused = spawn(
      process.execPath,
      [
        '-e',
        'console.error("database: port 5 (DB_PORT) on 127.0.0.1 is already in use"); process.exit(1)',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await expect(databaseListening(refused)).rejects.toThrow(
      "the lab's database exited (1) before it listened: database: port 5 (DB_PORT) on 127.0.0.1 is already in use",
    );
    const listening = spawn(
      process.execPath,
      [
        '-e',
        'console.log("embedded database (PGlite, x) listening on postgres://postgres@127.0.0.1:5/postgres"); setInterval(() => {}, 1000)',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      await expect(databaseListening(listening)).resolves.toBeUndefined();
    } finally {
      await signalProcess(listening, 'SIGKILL');
    }
  });
});
