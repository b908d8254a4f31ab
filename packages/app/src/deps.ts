import type { Cache } from '@cachelab/cache';
import type { UsersRepository } from '@cachelab/store';
import type { UserBody } from './user-view.ts';

/** Who answers: shown in `X-Instance` as `name/id`. */
export interface InstanceIdentity {
  /** The configured name, e.g. `app-1`. */
  name: string;
  /** A `nanoid` drawn when the process started, so restarts are visible. */
  id: string;
}

/** A dependency check for `/readyz`: resolves when the dependency answers. */
export type Check = () => Promise<void>;

/** Everything an app instance needs; `createApp` builds nothing itself. */
export interface AppDeps {
  users: UsersRepository;
  cache: Cache<UserBody>;
  instance: InstanceIdentity;
  checks: { redis: Check; database: Check };
  /** True once shutdown has begun: `/readyz` answers 503 so load balancers stop sending traffic. */
  isDraining?: () => boolean;
  /** Told about unexpected errors (the ones answered with a 500). */
  onError?: (error: unknown) => void;
}
