import { row, type Scenario } from '../scenario.ts';
import { FILL } from './consistency.ts';

/** Every subscriber connection cut: L1 untrusted at once, flushed when trust returns. */
export const subscriberKilled: Scenario = {
  name: 'subscriber-killed',
  musts: ['MUST-TRUST-3', 'MUST-TRUST-5'],
  async run(t) {
    const key = 'killed:1';
    await t.warm(t.y, key, 1);
    const before = await t.stats(t.y);
    await t.topology.killSubscribers();
    await t.eventually(
      ['MUST-TRUST-3'],
      'Y stopped trusting L1 and trusts again',
      async () => {
        const stats = await t.stats(t.y);
        return stats.trustLost > before.trustLost && stats.trusted;
      },
      10_000,
    );
    const peek = await t.peek(t.y, key);
    t.check(['MUST-TRUST-5'], 'Y flushed its L1 before trusting again', !peek.found, peek);
    await t.eventually([], 'X trusts again', async () => (await t.stats(t.x)).trusted, 10_000);
    await t.warm(t.y, key, 1);
    await t.x.call('set', { key, ...row(2) });
    await t.eventually(
      ['MUST-TRUST-3'],
      "after recovering, Y hears X's announcements",
      async () => !(await t.peek(t.y, key)).found,
    );
  },
};

/** redis-server killed and started again, empty: L1 flushed, scripts loaded again. */
export const redisRestart: Scenario = {
  name: 'redis-restart',
  musts: ['MUST-TRUST-3', 'MUST-TRUST-5', 'MUST-SCRIPT-1'],
  only: 'single',
  async run(t) {
    const key = 'restart:1';
    await t.warm(t.y, key, 1);
    const before = await t.stats(t.y);
    await t.topology.restartEmpty?.();
    await t.eventually(
      ['MUST-TRUST-3'],
      'Y lost trust and regained it after the restart',
      async () => {
        const stats = await t.stats(t.y);
        return stats.trustLost > before.trustLost && stats.trusted;
      },
      15_000,
    );
    const peek = await t.peek(t.y, key);
    t.check(['MUST-TRUST-5'], 'Y flushed its L1 (Redis forgot every version)', !peek.found, peek);
    await t.eventually([], 'X trusts again', async () => (await t.stats(t.x)).trusted, 15_000);
    await t.x.call('set', { key, ...row(2) });
    await t.eventually(
      ['MUST-SCRIPT-1'],
      "X's write reaches the empty Redis (FILL loaded again)",
      async () => (await t.topology.get(t.keys.pointer(key))) === '2',
    );
    const read = await t.read(t.y, key, row(2));
    t.check(
      ['MUST-SCRIPT-1'],
      'Y reads it (READ loaded again)',
      read.version === 2 && read.tier === 'L2',
      read,
    );
  },
};

/** SCRIPT FLUSH: the next calls load the scripts again, transparently. */
export const scriptFlush: Scenario = {
  name: 'script-flush',
  musts: ['MUST-SCRIPT-1'],
  async run(t) {
    const key = 'script-flush:1';
    await t.read(t.y, 'script-flush:warm', row(1));
    await t.topology.flushScripts();
    await t.x.call('set', { key, ...row(1) });
    const pointer = await t.topology.get(t.keys.pointer(key));
    t.check(
      ['MUST-SCRIPT-1'],
      'a write right after SCRIPT FLUSH reaches Redis',
      pointer === '1',
      pointer,
    );
    await t.topology.flushScripts();
    const read = await t.read(t.y, key, row(1));
    t.check(
      ['MUST-SCRIPT-1'],
      'a read right after SCRIPT FLUSH is served by Redis',
      read.tier === 'L2' && read.version === 1,
      read,
    );
  },
};

/**
 * Redis back from an older snapshot: no instance serves a version the snapshot holds once a newer
 * one was written, whether it heard of the newer one or not (SPEC §12a).
 */
export const snapshotRestore: Scenario = {
  name: 'snapshot-restore',
  musts: ['MUST-FENCE-1'],
  only: 'single',
  async run(t) {
    // `heard`: X writes, Y hears. `unheard`: written behind both adapters' backs (a writer they
    // never heard of), so only the fence, not a high-water mark, keeps v1 out.
    const heard = 'fence:1';
    const unheard = 'fence:2';
    const fillSilently = (key: string, version: number) =>
      t.topology.eval(
        FILL,
        [t.keys.pointer(key), t.keys.data(key, version)],
        [t.keys.dataPrefix(key), String(version), '60000', '120000'].concat([
          JSON.stringify(row(version).value),
          '',
          '',
          'always',
        ]),
      );
    await t.x.call('set', { key: heard, ...row(1) });
    await t.warm(t.y, heard, 1);
    await fillSilently(unheard, 1);
    await t.topology.save?.();
    await t.x.call('set', { key: heard, ...row(2) });
    await fillSilently(unheard, 2);
    await t.eventually([], "Y drops v1 on X's announcement", async () => {
      const peek = await t.peek(t.y, heard);
      return !peek.found || peek.version >= 2;
    });
    await t.warm(t.y, heard, 2);
    const before = await t.stats(t.y);
    await t.topology.restoreSnapshot?.();
    await t.eventually(
      [],
      'Y lost trust and regained it after the restore',
      async () => {
        const stats = await t.stats(t.y);
        return stats.trustLost > before.trustLost && stats.trusted;
      },
      15_000,
    );
    // The source of truth is at v2 throughout: an answer below v2 came from the snapshot.
    const first = await t.read(t.y, unheard, row(2));
    t.check(
      ['MUST-FENCE-1'],
      "Y, which never read it, does not answer the snapshot's v1",
      first.version === 2,
      first,
    );
    for (const adapter of [t.y, t.x]) {
      const older: unknown[] = [];
      await t.eventually(
        ['MUST-FENCE-1'],
        `${adapter.origin} answers from its caches again after the restore`,
        async () => {
          const read = await t.read(adapter, heard, row(2));
          if (read.version < 2) older.push(read);
          return read.tier === 'L1' || read.tier === 'L2';
        },
        15_000,
      );
      t.check(
        ['MUST-FENCE-1'],
        `${adapter.origin} never answered the snapshot's v1`,
        older.length === 0,
        older,
      );
    }
    const pointer = await t.topology.get(t.keys.pointer(unheard));
    t.check(
      ['MUST-FENCE-1'],
      "the snapshot's pointer is gone from Redis",
      pointer !== '1',
      pointer,
    );
  },
};
