import { createHmac } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import type { KeyBuilder } from '@cachelab/cache';
import type { AdapterProcess } from './adapter-process.ts';
import type { Topology, TopologyKind } from './topology.ts';

/** One scenario of protocol/INTEROP.md: what it does to a writer `x` and a reader `y`. */
export interface Scenario {
  name: string;
  /** Every MUST id it checks; all fail if the scenario throws. */
  musts: readonly string[];
  /** Only on this topology (e.g. a restart of the single redis-server). */
  only?: TopologyKind;
  /** Runs with signing secrets (the default) or without. */
  channel?: 'signed' | 'unsigned';
  run(t: ScenarioContext): Promise<void>;
}

/** The answer of an adapter's `read`. */
export interface ReadAnswer {
  value: unknown;
  version: number;
  tier: 'L1' | 'L2' | 'MISS' | 'STALE';
  loaded: boolean;
}

/** What an adapter's `peek` and `stats` answer. */
export type Peek = { found: false } | { found: true; value: unknown; version: number };
export interface Stats {
  trusted: boolean;
  l1Entries: number;
  rejected: Record<string, number>;
  announcementsSent: number;
  trustLost: number;
  invalidationsReceived: number;
}

/** A source row: the value of version `version` of a key, as the harness's database holds it. */
export const row = (version: number) => ({
  value: { name: `v${version}`, version, text: 'ключ "😀"', list: [1, null, true] },
  version,
});

/** What a scenario works with. */
export class ScenarioContext {
  readonly x: AdapterProcess;
  readonly y: AdapterProcess;
  readonly topology: Topology;
  readonly keys: KeyBuilder;
  /** A secret the reader accepts (its second one) and one nobody has. */
  readonly secrets: { accepted: string; stranger: string };
  /** Whether the adapters sign their messages (and refuse unsigned ones). */
  readonly signed: boolean;
  readonly record: (must: string, ok: boolean, what: string) => void;
  readonly samples: number[] = [];

  constructor(init: {
    x: AdapterProcess;
    y: AdapterProcess;
    topology: Topology;
    keys: KeyBuilder;
    secrets: { accepted: string; stranger: string };
    signed: boolean;
    record: (must: string, ok: boolean, what: string) => void;
  }) {
    this.x = init.x;
    this.y = init.y;
    this.topology = init.topology;
    this.keys = init.keys;
    this.secrets = init.secrets;
    this.signed = init.signed;
    this.record = init.record;
  }

  /** Records `ok` for every MUST of `musts`; returns it. */
  check(musts: readonly string[], what: string, ok: boolean, seen?: unknown): boolean {
    const detail = ok || seen === undefined ? what : `${what}; seen ${JSON.stringify(seen)}`;
    for (const must of musts) this.record(must, ok, detail);
    return ok;
  }

  /** Polls `probe` until it holds (checked once, as passed) or `timeoutMs` passes (failed). */
  async eventually(
    musts: readonly string[],
    what: string,
    probe: () => Promise<boolean>,
    timeoutMs = 3000,
  ): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (await probe()) return this.check(musts, what, true);
      if (performance.now() > deadline) {
        return this.check(musts, `${what} (not within ${timeoutMs} ms)`, false);
      }
      await delay(5);
    }
  }

  async read(
    adapter: AdapterProcess,
    key: string,
    source: { value: unknown; version: number } | null,
    options: { consistency?: 'strict'; minVersion?: number; loadDelayMs?: number } = {},
  ): Promise<ReadAnswer> {
    return (await adapter.call('read', { key, source, ...options })) as unknown as ReadAnswer;
  }

  async peek(adapter: AdapterProcess, key: string): Promise<Peek> {
    return (await adapter.call('peek', { key })) as unknown as Peek;
  }

  async stats(adapter: AdapterProcess): Promise<Stats> {
    return (await adapter.call('stats')) as unknown as Stats;
  }

  /** Reads `key` on `adapter` until its L1 holds `version` (a read fills L1, the next hits it). */
  async warm(adapter: AdapterProcess, key: string, version: number): Promise<void> {
    const what = `${adapter.origin} holds ${key} v${version} in L1`;
    const held = await this.eventually([], what, async () => {
      await this.read(adapter, key, row(version));
      const peek = await this.peek(adapter, key);
      return peek.found && peek.version === version;
    });
    if (!held) throw new Error(`${what}: not within 3000 ms`);
  }

  /**
   * Whether `adapter`'s L1 serves `version` of `key`, polled for up to 2 s: a loaded machine can
   * suspend trust for a moment (a late tick, SPEC SHOULD-TRUST-7) without the entry being gone.
   */
  async holds(adapter: AdapterProcess, key: string, version: number): Promise<boolean> {
    const deadline = performance.now() + 2000;
    for (;;) {
      const peek = await this.peek(adapter, key);
      if (peek.found && peek.version === version) return true;
      if (performance.now() > deadline) return false;
      await delay(10);
    }
  }

  /** The channel an announcement of `key` travels on, in this topology. */
  channelOf(key: string): string {
    return this.topology.kind === 'cluster' ? this.keys.shardChannel(key) : this.keys.channel();
  }

  /** `payload` signed with `secret` for this namespace (SPEC §5.4), or for `channel`. */
  sign(payload: string, secret = this.secrets.accepted, channel = this.keys.channel()): string {
    const mac = createHmac('sha256', Buffer.from(secret, 'utf8'))
      .update(`${channel}\n${payload}`, 'utf8')
      .digest('base64url');
    return `${mac}.${payload}`;
  }

  /** `payload` as the adapters accept it: signed when they sign, else as it is. */
  encode(payload: string): string {
    return this.signed ? this.sign(payload) : payload;
  }

  /** An invalidation from the harness, as JSON text. */
  invalidation(key: string, version: number, origin = 'harness'): string {
    return JSON.stringify({ type: 'inv', key, version, origin, seq: 0, ts: Date.now() });
  }
}

/** Deep equality of two JSON values. */
export const same = (a: unknown, b: unknown) => isDeepStrictEqual(a, b);
