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

/** The JSON payload of `raw` as published (after the MAC when signed), or undefined. */
function payloadOf(raw: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw.startsWith('{') ? raw : raw.slice(raw.indexOf('.') + 1));
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The channel sequence number: X numbers every message it sends on a shard channel and nothing on
 * the global one; Y withdraws trust when a sender's numbers skip one, and only then.
 */
export const channelSequence: Scenario = {
  name: 'channel-sequence',
  musts: ['MUST-MSG-8', 'MUST-TRUST-8'],
  async run(t) {
    const key = 'cseq:1';
    const channel = t.channelOf(key);
    const fromX: Record<string, unknown>[] = [];
    await t.topology.subscribe(channel, (raw) => {
      const message = payloadOf(raw);
      if (message?.origin === t.x.origin) fromX.push(message);
    });
    for (const version of [1, 2, 3]) await t.x.call('set', { key, ...row(version) });
    await t.eventually(
      [],
      "X's three announcements heard",
      async () => fromX.filter((m) => m.type === 'inv').length >= 3,
    );
    const numbers = fromX.map((m) => m.cseq);
    if (t.topology.kind === 'single') {
      t.check(
        ['MUST-MSG-8'],
        'no cseq on global Pub/Sub',
        numbers.every((n) => n === undefined),
        numbers,
      );
      return;
    }
    const counted = numbers.every(
      (n, i) => Number.isSafeInteger(n) && (i === 0 || n === (numbers[i - 1] as number) + 1),
    );
    t.check(
      ['MUST-MSG-8'],
      'X numbers each of its messages on the shard channel, one up',
      counted,
      numbers,
    );

    await t.warm(t.y, key, 3);
    const sender = 'harness-cseq';
    const numbered = (cseq: number) =>
      t.encode(JSON.stringify({ type: 'hb', origin: sender, seq: cseq, ts: Date.now(), cseq }));
    const before = await t.stats(t.y);
    await deliver(t, key, [numbered(0), numbered(1)]);
    const inOrder = await t.stats(t.y);
    t.check(
      ['MUST-TRUST-8'],
      'a new sender numbered 0 then 1: no gap, trust kept',
      inOrder.trustLost === before.trustLost && (await t.holds(t.y, key, 3)),
      inOrder,
    );
    await t.topology.publish(channel, numbered(3));
    await t.eventually(
      ['MUST-TRUST-8'],
      'the same sender skipping 2: Y withdraws trust',
      async () => (await t.stats(t.y)).trustLost > inOrder.trustLost,
    );
    await t.eventually(
      ['MUST-TRUST-8'],
      'and trusts again',
      async () => (await t.stats(t.y)).trusted,
      10_000,
    );
    const peek = await t.peek(t.y, key);
    t.check(['MUST-TRUST-8'], 'Y flushed its L1 before trusting again', !peek.found, peek);
  },
};
