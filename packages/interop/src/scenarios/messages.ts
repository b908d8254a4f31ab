import { row, type Scenario, type ScenarioContext, type Stats, same } from '../scenario.ts';

/** Publishes `messages` raw on `key`'s channel, then a valid one, and waits for Y to take it. */
export async function deliver(t: ScenarioContext, key: string, messages: string[]): Promise<Stats> {
  const before = await t.stats(t.y);
  const channel = t.channelOf(key);
  for (const message of messages) await t.topology.publish(channel, message);
  // Version 1 is below what Y holds: accepted, counted, and it changes nothing.
  await t.topology.publish(channel, t.encode(t.invalidation(key, 1)));
  let after = before;
  await t.eventually([], 'Y received the harness invalidation', async () => {
    after = await t.stats(t.y);
    return after.invalidationsReceived > before.invalidationsReceived;
  });
  return after;
}

export const rejected = (before: Stats, after: Stats, reason: string) =>
  (after.rejected[reason] ?? 0) - (before.rejected[reason] ?? 0);

/** Forged, unsigned, malformed and oversized messages on a signed channel. */
export const hostileMessages: Scenario = {
  name: 'hostile-messages',
  musts: ['MUST-SIGN-3', 'MUST-MSG-3', 'MUST-MSG-5'],
  async run(t) {
    const key = 'hostile:1';
    await t.warm(t.y, key, 2);
    const inv = t.invalidation(key, 99, 'intruder');
    const heartbeat = JSON.stringify({ type: 'hb', origin: t.y.origin, seq: 1e9, ts: Date.now() });
    const before = await t.stats(t.y);
    const after = await deliver(t, key, [
      `${'A'.repeat(43)}.${inv}`,
      t.sign(inv, t.secrets.stranger),
      inv,
      heartbeat,
      t.sign('not json'),
      t.sign(inv.replace('}', `,"pad":"${'x'.repeat(3000)}"}`)),
    ]);
    t.check(
      ['MUST-SIGN-3', 'MUST-MSG-5'],
      'two forged messages counted as forged',
      rejected(before, after, 'forged') === 2,
      after.rejected,
    );
    t.check(
      ['MUST-SIGN-3', 'MUST-MSG-5'],
      'an unsigned invalidation and heartbeat counted as unsigned',
      rejected(before, after, 'unsigned') === 2,
      after.rejected,
    );
    t.check(
      ['MUST-MSG-3', 'MUST-MSG-5'],
      'a signed non-JSON and an oversized message counted as malformed',
      rejected(before, after, 'malformed') === 2,
      after.rejected,
    );
    t.check(['MUST-MSG-5'], "Y's L1 unchanged", await t.holds(t.y, key, 2));
  },
};

/** A recorded announcement replayed: harmless on its channel, forged in another namespace. */
export const replay: Scenario = {
  name: 'replay',
  musts: ['MUST-KEY-4', 'MUST-KEY-5', 'MUST-CHAN-2', 'MUST-MSG-6', 'MUST-SIGN-1'],
  async run(t) {
    const key = 'replay:1';
    const channel = t.channelOf(key);
    const heard: string[] = [];
    await t.topology.subscribe(channel, (message) => heard.push(message));
    await t.x.call('set', { key, ...row(1) });
    const musts = t.topology.kind === 'cluster' ? ['MUST-KEY-5', 'MUST-CHAN-2'] : ['MUST-KEY-4'];
    await t.eventually(musts, `X's announcement travels on ${channel}`, async () =>
      heard.some((m) => m.includes(`"key":"${key}"`)),
    );
    const recorded = heard.find((m) => m.includes(`"key":"${key}"`));
    if (!recorded) return;
    await t.x.call('set', { key, ...row(2) });
    await t.warm(t.y, key, 2);
    await deliver(t, key, [recorded]);
    const unchanged = await t.holds(t.y, key, 2);
    t.check(['MUST-MSG-6'], 'a replayed older announcement changes nothing', unchanged);
    const before = await t.stats(t.y);
    const payload = recorded.slice(44);
    const elsewhere = t.sign(payload, t.secrets.accepted, 'another-namespace:invalidations');
    const after = await deliver(t, key, [elsewhere]);
    t.check(
      ['MUST-SIGN-1'],
      'signed for another namespace: forged',
      rejected(before, after, 'forged') === 1,
      after.rejected,
    );
  },
};

/** Without secrets: plain messages travel between X and Y, a signed one is malformed. */
export const unsignedChannel: Scenario = {
  name: 'unsigned-channel',
  musts: ['MUST-SIGN-4', 'MUST-MSG-6'],
  channel: 'unsigned',
  async run(t) {
    const key = 'unsigned:1';
    await t.x.call('set', { key, ...row(1) });
    await t.warm(t.y, key, 1);
    await t.x.call('set', { key, ...row(2) });
    await t.eventually(
      ['MUST-SIGN-4', 'MUST-MSG-6'],
      "Y drops v1 on X's unsigned announcement",
      async () => {
        const peek = await t.peek(t.y, key);
        return !peek.found || peek.version >= 2;
      },
    );
    await t.warm(t.y, key, 2);
    const before = await t.stats(t.y);
    const after = await deliver(t, key, [t.sign(t.invalidation(key, 99))]);
    t.check(
      ['MUST-SIGN-4'],
      'a signed message is malformed on an unsigned channel',
      rejected(before, after, 'malformed') === 1,
      after.rejected,
    );
    t.check(['MUST-SIGN-4'], "Y's L1 unchanged", await t.holds(t.y, key, 2));
  },
};

/**
 * A clear of the namespace, as a Node.js instance's `cache.clear()` sends it: Y drops its whole L1
 * and keeps out of L1 and Redis what a load in flight when it arrived read.
 */
export const clear: Scenario = {
  name: 'clear',
  musts: ['MUST-CLEAR-1', 'MUST-CLEAR-2', 'MUST-MSG-5'],
  async run(t) {
    const held = 'clear:1';
    const loading = 'clear:2';
    await t.warm(t.y, held, 2);
    const slow = t.read(t.y, loading, row(1), { loadDelayMs: 400 });
    // The load lease is taken just before the loader runs; without one, the delay covers it.
    await t.eventually(
      [],
      'Y loading',
      async () => (await t.topology.get(t.keys.lease(loading))) !== null,
      300,
    );
    const before = await t.stats(t.y);
    const message = JSON.stringify({ type: 'clr', origin: 'harness', seq: 0, ts: Date.now() });
    // On a cluster every instance subscribes to every shard channel: shard 0's reaches them all.
    const channel = t.topology.kind === 'cluster' ? t.keys.shardChannels()[0] : t.keys.channel();
    await t.topology.publish(channel as string, t.encode(message));
    await t.eventually(['MUST-CLEAR-1'], 'Y accepted the clear', async () => {
      const after = await t.stats(t.y);
      return after.invalidationsReceived > before.invalidationsReceived;
    });
    const peek = await t.peek(t.y, held);
    t.check(['MUST-CLEAR-2'], "Y's L1 no longer holds what it held", !peek.found, peek);
    const answer = await slow;
    t.check(['MUST-CLEAR-2'], "Y's held read answers what it loaded", answer.loaded, answer);
    const filled = await t.peek(t.y, loading);
    t.check(['MUST-CLEAR-2'], "Y's L1 did not take the load in flight", !filled.found, filled);
    const pointer = await t.topology.get(t.keys.pointer(loading));
    t.check(['MUST-CLEAR-2'], 'nor did Redis', pointer === null, pointer);
    const after = await t.stats(t.y);
    t.check(['MUST-MSG-5'], 'nothing rejected', same(after.rejected, before.rejected), after);
  },
};
