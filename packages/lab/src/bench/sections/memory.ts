import { runWorker } from '../child.ts';
import { runLoad } from '../load.ts';
import type { BenchServices } from '../services.ts';
import { startInstances } from '../services.ts';
import type { BenchSettings } from '../settings.ts';

/** Memory of L1, in process and for a whole instance. */
export interface MemoryResults {
  entries: number;
  userJsonBytes: number;
  /** Heap per user object alone (what any holder of the parsed row pays). */
  bytesPerUserObject: number;
  /** Heap per L1 entry, user object included. */
  bytesPerL1Entry: number;
  /**
   * The compiled instance (`node packages/app/dist/main.js`, as `npm start` runs it) against a
   * database in another process, in MiB: RSS once ready, after N reads of one key, after N reads
   * of N users; and the RSS once ready of the same instance run from its sources under tsx
   * (development, and every test).
   */
  instance: {
    l1Entries: number;
    rssEmptyMiB: number;
    rssWarmMiB: number;
    rssFullMiB: number;
    rssEmptyTsxMiB: number;
  };
}

const MiB = 2 ** 20;

/**
 * Bytes per L1 entry (heap delta over N entries, `--expose-gc`), and the RSS of an instance
 * process: ready (compiled, and under tsx), after N reads of one key, and after N reads of N
 * distinct users (a full L1).
 */
export async function runMemory(
  settings: BenchSettings,
  services: BenchServices,
): Promise<MemoryResults> {
  const heap = await runWorker<Omit<MemoryResults, 'instance'>>(
    'memory',
    { entries: settings.memory.entries, userBytes: settings.memory.userBytes },
    { nodeArgs: ['--expose-gc'], timeoutMs: 300_000 },
  );
  const entries = settings.memory.instanceEntries;
  const env = {
    INSTANCE_NAME: 'bench-memory',
    CACHE_NAMESPACE: 'bench-memory',
    DB_LATENCY_MS: '0',
    L1_MAX_ENTRIES: String(entries),
    SEED_USERS: String(settings.seedUsers),
  };
  // One at a time, so that neither start competes with the other for the CPU.
  const [tsx] = await startInstances(services, [env]);
  if (!tsx) throw new Error('no instance');
  const rssEmptyTsx = await tsx.rss().finally(() => tsx.stop());
  const [instance] = await startInstances(services, [env], [], { compiled: true });
  if (!instance) throw new Error('no instance');
  try {
    const rssEmpty = await instance.rss();
    // The same number of reads of one key first: what the traffic alone grows (heap, buffers,
    // optimised code) is then in the baseline, and the difference is what the entries take.
    await runLoad({
      urls: [instance.url],
      connections: 10,
      amount: entries,
      path: { kind: 'fixed', path: '/users/1' },
    });
    const rssWarm = await instance.rss();
    // Ids 1…entries, each once: L1 ends up holding exactly `entries` users.
    await runLoad({
      urls: [instance.url],
      connections: 10,
      amount: entries,
      path: { kind: 'cycle', ids: entries },
    });
    const { cache } = await instance.stats();
    if (cache.l1Size !== entries)
      throw new Error(`L1 holds ${cache.l1Size} entries, not ${entries}`);
    return {
      ...heap,
      instance: {
        l1Entries: cache.l1Size,
        rssEmptyMiB: rssEmpty / MiB,
        rssWarmMiB: rssWarm / MiB,
        rssFullMiB: (await instance.rss()) / MiB,
        rssEmptyTsxMiB: rssEmptyTsx / MiB,
      },
    };
  } finally {
    await instance.stop();
  }
}
