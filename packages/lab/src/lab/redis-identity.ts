import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { createClient } from 'redis';
import type { Target } from './client.ts';

/** How long the instances get to show their probe reads on `--redis-url`. */
const PROBE_TIMEOUT_MS = 3000;

/**
 * Resolves when every instance of `targets` is seen using the Redis at `redisUrl`, i.e. when
 * faults sent to `redisUrl` reach the Redis those instances use. It watches `redisUrl` with
 * MONITOR (which the lab's faults need rights for anyway) while it reads a user that exists
 * nowhere (`lab-probe-<random>-<n>`) on each instance: an instance of that Redis looks the key up
 * there. The instances need no extra Redis permission. Rejects with a one-line message when
 * `redisUrl` does not answer, an instance does not answer, or a probe is not seen within
 * PROBE_TIMEOUT_MS (another Redis, e.g. one of the host's on the same port the docs name).
 */
export async function checkSameRedis(targets: Target[], redisUrl: string): Promise<void> {
  const client = createClient({
    url: redisUrl,
    socket: { reconnectStrategy: false, connectTimeout: 2000 },
  });
  client.on('error', () => {});
  const probe = `lab-probe-${randomBytes(6).toString('hex')}`;
  const seen = new Set<number>();
  try {
    try {
      await client.connect();
      await client.monitor((line) => {
        const match = new RegExp(`${probe}-(\\d+)`).exec(String(line));
        if (match) seen.add(Number(match[1]));
      });
    } catch (error) {
      throw new Error(`--redis-url ${redisUrl} cannot be watched (${(error as Error).message})`);
    }
    await Promise.all(targets.map((target, i) => probeRead(target, `${probe}-${i}`)));
    const deadline = Date.now() + PROBE_TIMEOUT_MS;
    while (seen.size < targets.length && Date.now() < deadline) await delay(20);
  } finally {
    if (client.isOpen) client.destroy();
  }
  const missing = targets.filter((_, i) => !seen.has(i));
  if (missing.length > 0) {
    throw new Error(
      `refusing --redis-url ${redisUrl}: it is not the Redis the instances use (${missing.map((t) => t.url).join(', ')} read nothing from it)`,
    );
  }
}

/** GET /users/:id on `target`; rejects only when the instance does not answer. */
async function probeRead(target: Target, id: string): Promise<void> {
  try {
    const response = await fetch(`${target.url}/users/${id}`, {
      signal: AbortSignal.timeout(3000),
    });
    await response.body?.cancel();
  } catch (error) {
    throw new Error(`${target.url} does not answer (${(error as Error).message})`);
  }
}
