import { row, type Scenario, same } from '../scenario.ts';

/** X writes, Y reads: the write reaches Redis in the protocol's shape and Y's L1 drops. */
export const writeRead: Scenario = {
  name: 'write-read',
  musts: [
    'MUST-KEY-3',
    'MUST-ENC-1',
    'MUST-VER-2',
    'MUST-WRITE-1',
    'MUST-WRITE-2',
    'MUST-MSG-6',
    'MUST-SIGN-2',
    'MUST-READ-1',
    'MUST-READ-2',
  ],
  async run(t) {
    const key = 'write-read:1';
    const first = await t.read(t.y, key, row(1));
    t.check(
      ['MUST-READ-2'],
      'a first read loads (MISS)',
      first.tier === 'MISS' && first.loaded,
      first,
    );
    await t.warm(t.y, key, 1);
    await t.eventually(['MUST-READ-1'], 'a trusted reader serves its L1 entry', async () => {
      return (await t.read(t.y, key, row(1))).tier === 'L1';
    });
    t.check(
      ['MUST-KEY-3'],
      `Y's fill is in ${t.keys.pointer(key)}`,
      (await t.topology.get(t.keys.pointer(key))) === '1',
    );

    await t.x.call('set', { key, ...row(2) });
    const pointer = await t.topology.get(t.keys.pointer(key));
    const data = await t.topology.get(t.keys.data(key, 2));
    t.check(['MUST-WRITE-1', 'MUST-KEY-3'], 'X moved the pointer to 2', pointer === '2', pointer);
    t.check(
      ['MUST-ENC-1', 'MUST-KEY-3'],
      'the data entry is the JSON of the value',
      data !== null && same(JSON.parse(data), row(2).value),
      data,
    );
    t.check(
      ['MUST-VER-2'],
      'the superseded data entry is gone',
      (await t.topology.get(t.keys.data(key, 1))) === null,
    );
    t.check(['MUST-WRITE-2'], "the writer's L1 holds its write", await t.holds(t.x, key, 2));
    await t.eventually(
      ['MUST-MSG-6', 'MUST-SIGN-2'],
      "Y drops v1 on X's announcement (signed with a secret Y lists second)",
      async () => {
        const peek = await t.peek(t.y, key);
        return !peek.found || peek.version >= 2;
      },
    );
    const after = await t.read(t.y, key, row(2));
    t.check(
      ['MUST-READ-2', 'MUST-ENC-1'],
      "Y serves X's write from Redis",
      after.tier === 'L2' &&
        after.version === 2 &&
        same(after.value, row(2).value) &&
        !after.loaded,
      after,
    );
  },
};

/** A deletion is a write of null at the tombstone's version. */
export const deletion: Scenario = {
  name: 'delete',
  musts: ['MUST-WRITE-3'],
  async run(t) {
    const key = 'delete:1';
    await t.x.call('set', { key, ...row(1) });
    await t.warm(t.y, key, 1);
    await t.x.call('delete', { key, version: 2 });
    await t.eventually(
      ['MUST-WRITE-3'],
      'Y drops v1 after the delete',
      async () => !(await t.peek(t.y, key)).found,
    );
    const read = await t.read(t.y, key, { value: null, version: 2 });
    t.check(
      ['MUST-WRITE-3'],
      'Y serves the tombstone from Redis: null at version 2',
      read.value === null && read.version === 2 && read.tier === 'L2',
      read,
    );
  },
};

/** A write older than the pointer changes nothing. */
export const olderWrite: Scenario = {
  name: 'older-write',
  musts: ['MUST-VER-1', 'MUST-WRITE-4'],
  async run(t) {
    const key = 'older-write:1';
    await t.x.call('set', { key, ...row(5) });
    await t.x.call('set', { key, ...row(3) });
    const pointer = await t.topology.get(t.keys.pointer(key));
    t.check(['MUST-VER-1', 'MUST-WRITE-4'], 'the pointer stays at 5', pointer === '5', pointer);
    t.check(
      ['MUST-WRITE-4'],
      'no data entry for 3',
      (await t.topology.get(t.keys.data(key, 3))) === null,
    );
    t.check(['MUST-WRITE-4'], "the writer's L1 keeps 5", await t.holds(t.x, key, 5));
    const read = await t.read(t.y, key, row(5));
    t.check(['MUST-VER-1'], 'Y reads 5', read.version === 5 && read.tier === 'L2', read);
  },
};

/** Y's load is held while X writes a newer version: Y's older answer stays out of L1. */
export const staleFill: Scenario = {
  name: 'stale-fill',
  musts: ['MUST-FILL-2', 'MUST-VER-1'],
  async run(t) {
    const key = 'stale-fill:1';
    const slow = t.read(t.y, key, row(1), { loadDelayMs: 400 });
    // The load lease is taken just before the loader runs; without one, the delay covers it.
    await t.eventually(
      [],
      'Y loading',
      async () => (await t.topology.get(t.keys.lease(key))) !== null,
      300,
    );
    await t.x.call('set', { key, ...row(2) });
    const answer = await slow;
    t.check(
      ['MUST-FILL-2'],
      "Y's held read answers what it loaded",
      answer.version === 1 && answer.loaded,
      answer,
    );
    const peek = await t.peek(t.y, key);
    t.check(
      ['MUST-FILL-2'],
      "Y's L1 did not take v1 after v2 was written",
      !peek.found || peek.version === 2,
      peek,
    );
    const pointer = await t.topology.get(t.keys.pointer(key));
    t.check(
      ['MUST-VER-1'],
      "Y's late fill did not move the pointer back",
      pointer === '2',
      pointer,
    );
  },
};

/** A version announced without its value (an outbox relay). */
export const announce: Scenario = {
  name: 'announce',
  musts: ['MUST-OUTBOX-3'],
  async run(t) {
    const key = 'announce:1';
    await t.warm(t.y, key, 1);
    await t.x.call('announce', { key, version: 2 });
    const pointer = await t.topology.get(t.keys.pointer(key));
    t.check(
      ['MUST-OUTBOX-3'],
      'the pointer moved to 2, without data',
      pointer === '2' && (await t.topology.get(t.keys.data(key, 2))) === null,
      pointer,
    );
    await t.eventually(
      ['MUST-OUTBOX-3'],
      'Y drops v1',
      async () => !(await t.peek(t.y, key)).found,
    );
    const read = await t.read(t.y, key, row(2));
    t.check(['MUST-OUTBOX-3'], 'Y loads v2', read.version === 2 && read.loaded, read);
  },
};
