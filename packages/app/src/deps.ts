import type { Cache } from '@cachelab/cache';
import type { OutboxRelayStats, UsersRepository } from '@cachelab/store';
import type { Logger } from 'pino';
import type { AppMetrics } from './metrics.ts';
import type { UserBody } from './user-view.ts';

/** Who answers: shown in `X-Instance` as `name/id`. */
export interface InstanceIdentity {
  /** The configured name, e.g. `app-1`. */
  name: string;
  /** A `nanoid` drawn when the process started, so restarts are visible. */
  id: string;
  /** The `CLUSTER_RUN_ID` of the `npm start` run that started it, reported by `/readyz`. */
  runId?: string;
}

/** A dependency check for `/readyz`: resolves when the dependency answers. */
export type Check = () => Promise<void>;

/** Everything an app instance needs; `createServer` builds nothing itself. */
export interface AppDeps {
  users: UsersRepository;
  cache: Cache<UserBody>;
  instance: InstanceIdentity;
  /**
   * `cluster`, on a Redis Cluster: rejects while the instance cannot use it as it knows it (a slot
   * without a node in its slot map); `/readyz` is then not ready.
   */
  checks: { redis: Check; database: Check; cluster?: Check };
  /**
   * The relay of the database's outbox, reported in `/stats` and `/metrics`.
   * @default none (reported as `null`)
   */
  outbox?: { stats(): OutboxRelayStats };
  /** True once shutdown has begun: `/readyz` answers 503 so load balancers stop sending traffic. */
  isDraining?: () => boolean;
  /**
   * Told about unexpected errors (the ones answered with a 500).
   * @default logged at `error` with the request id
   */
  onError?: (error: unknown, request: RequestInfo) => void;
  /**
   * Served on `/metrics`. Build it with `createMetrics()` before the cache and the repository,
   * and pass its `cacheEvents` and `onQuery` to them, so that its histograms see every event.
   * @default metrics of its own (without propagation and query histograms fed)
   */
  metrics?: AppMetrics;
  /** @default a silent logger */
  logger?: Logger;
}

/** The request an unexpected error happened in, for the log line. */
export interface RequestInfo {
  id: string;
  method: string;
  url: string;
}
