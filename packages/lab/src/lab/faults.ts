import { nanoid } from 'nanoid';
import pg from 'pg';
import { createClient } from 'redis';
import { DURATION_FORMS, parseDuration } from '../cli/duration.ts';
import { writeUser } from './client.ts';
import type { LabCluster } from './cluster.ts';
import type { Operation } from './history.ts';
import {
  failover,
  killMaster,
  killPubsubEverywhere,
  migrateSlot,
  slotOfUser,
} from './redis-cluster-faults.ts';

/** A fault ready to run at its time. */
export interface ScheduledFault {
  kind: string;
  /** As given on the command line, for the report. */
  spec: string;
  atMs: number;
  durationMs?: number;
  detail?: string;
  /**
   * Starts the fault. A fault without a duration that takes time (a failover) resolves when it is
   * over, with a string saying what happened: its end is marked then, and the string replaces
   * `detail`. Faults that write (`sql-write`, `bulk-write`, `crash-after-commit`) resolve to the
   * writes they committed instead, as the database recorded them, for the history.
   */
  start(context: FaultContext): Promise<unknown>;
  stop?(): Promise<void>;
}

/** What a fault needs of the run while it injects itself. */
export interface FaultContext {
  /** The run's clock (ms since the start), the one operations are stamped with. */
  now(): number;
}

/** The session of the writes a fault makes straight through the database. */
export const DATABASE_SESSION = -1;
/** The `instance` of those writes in the history: no instance saw them. */
export const DATABASE_WRITER = 'database';

/** What faults can act on. */
export interface FaultTargets {
  /** Redis to send CLIENT KILL / CLIENT PAUSE to. */
  redisUrl?: string;
  /** Present when the lab started the cluster itself: processes can be frozen, killed, restarted. */
  cluster?: LabCluster;
  /** The workload's keys (users `1`…`keys`): what the database writes update. @default 50 */
  keys?: number;
}

/** Help lines of the Redis Cluster faults; they act on the slot of user 1's key. */
const REDIS_CLUSTER_FAULT_HELP = [
  'failover@T                  CLUSTER FAILOVER on a replica of the master of user 1 (--cluster)',
  'kill-master@T               SIGKILL that master; its replica is promoted; restarted as a replica (--cluster)',
  'migrate-slot@T              move the slot of user 1 to another master: SETSLOT, MIGRATE (--cluster)',
];

/** The faults, with the form each takes on the command line (`--fault SPEC`). */
export const FAULT_HELP = [
  'kill-pubsub@T               CLIENT KILL TYPE pubsub (every subscriber connection drops)',
  'pause-writes@T+D            CLIENT PAUSE D WRITE (Redis stalls writes for D)',
  'restart-redis@T             SHUTDOWN NOSAVE and start again empty (lab-started cluster)',
  'freeze:app-N@T+D            SIGSTOP instance N, SIGCONT after D (lab-started cluster)',
  'kill:app-N@T                SIGKILL instance N and start it again (lab-started cluster)',
  'slow-db@T+D                 freeze the embedded database for D: queries wait or time out',
  "sql-write@T                 UPDATE a quarter of the workload's users straight in the database",
  'bulk-write@T                one UPDATE of every user of the workload, straight in the database',
  'crash-after-commit@T        the last instance dies after its next commit, before Redis; restarted',
  ...REDIS_CLUSTER_FAULT_HELP,
  `T (from the start of the run) and D: ${DURATION_FORMS} (kill-pubsub@3s, pause-writes@2s+2500ms).`,
];

/**
 * Each fault: whether it takes an instance (`:app-N`) and a duration (`+D`), and what it acts on:
 * a Redis (the lab's own or `--redis-url`) or processes of a cluster the lab started.
 */
const KINDS: Record<
  string,
  { target: boolean; duration: boolean; needs: 'redis' | 'cluster' | 'redis-cluster' }
> = {
  'kill-pubsub': { target: false, duration: false, needs: 'redis' },
  'pause-writes': { target: false, duration: true, needs: 'redis' },
  'restart-redis': { target: false, duration: false, needs: 'cluster' },
  freeze: { target: true, duration: true, needs: 'cluster' },
  kill: { target: true, duration: false, needs: 'cluster' },
  'slow-db': { target: false, duration: true, needs: 'cluster' },
  'sql-write': { target: false, duration: false, needs: 'cluster' },
  'bulk-write': { target: false, duration: false, needs: 'cluster' },
  'crash-after-commit': { target: false, duration: false, needs: 'cluster' },
  // Redis Cluster faults (a cluster the lab started with --start --cluster).
  failover: { target: false, duration: false, needs: 'redis-cluster' },
  'kill-master': { target: false, duration: false, needs: 'redis-cluster' },
  'migrate-slot': { target: false, duration: false, needs: 'redis-cluster' },
};

/**
 * What a fault lacks to run (e.g. `needs a cluster the lab started (--start or --compare)`), or
 * `undefined` when it can: checked before anything starts.
 */
export function faultNeeds(
  fault: FaultSpec,
  has: { ownCluster: boolean; redisCluster?: boolean; redisUrl?: string; instances?: number },
): string | undefined {
  const needs = KINDS[fault.kind]?.needs;
  if (fault.kind === 'pause-writes' && has.redisCluster) {
    return 'pauses a single Redis; on a cluster (--cluster) use failover@T';
  }
  // The lab names its instances app-1 … app-N.
  const n = Number(fault.target?.match(/^app-(\d+)$/)?.[1] ?? Number.NaN);
  if (
    has.ownCluster &&
    fault.target &&
    has.instances !== undefined &&
    !(n >= 1 && n <= has.instances)
  ) {
    return `names no instance of the lab's ${has.instances} (app-1 … app-${has.instances})`;
  }
  if (needs === 'redis-cluster') {
    return has.ownCluster && has.redisCluster
      ? undefined
      : 'needs a Redis Cluster the lab started (--start --cluster)';
  }
  if (fault.kind === 'restart-redis' && has.redisCluster) {
    return 'restarts a single Redis; on a cluster (--cluster) use kill-master@T';
  }
  if (has.ownCluster) return undefined;
  if (KINDS[fault.kind]?.needs === 'redis') {
    return has.redisUrl ? undefined : 'needs --redis-url (the Redis of --urls) or --start';
  }
  return 'needs a cluster the lab started (--start or --compare)';
}

/** A `--fault` spec as written, read but not yet bound to a cluster. */
export interface FaultSpec {
  kind: string;
  /** As given on the command line, for the report. */
  spec: string;
  /** The instance of `freeze:` and `kill:` (`app-2`). */
  target?: string;
  atMs: number;
  durationMs?: number;
}

const SPEC = /^([a-z-]+)(?::([A-Za-z0-9_-]+))?@([^+]+)(?:\+(.+))?$/;

/**
 * Reads one `--fault` spec, `KIND[:TARGET]@T[+D]`.
 *
 * @throws {RangeError} saying what is accepted (the caller names the option).
 */
export function parseFaultSpec(spec: string): FaultSpec {
  const match = SPEC.exec(spec.trim());
  if (!match) throw new RangeError('accepted: KIND[:app-N]@T[+D], e.g. kill-pubsub@3s');
  const [, kind = '', target, at = '', duration] = match;
  if (at.includes(':')) {
    throw new RangeError(`"@${at}": a duration follows a +, e.g. ${kind}@2s+2500ms`);
  }
  const shape = KINDS[kind];
  if (!shape)
    throw new RangeError(`unknown fault "${kind}"; accepted: ${Object.keys(KINDS).join(', ')}`);
  if (shape.target && !target) throw new RangeError(`${kind} needs an instance: ${kind}:app-N@T`);
  if (!shape.target && target) throw new RangeError(`${kind} takes no instance (:${target})`);
  if (shape.duration && duration === undefined) {
    throw new RangeError(`${kind} needs a duration: ${kind}${target ? `:${target}` : ''}@T+D`);
  }
  if (!shape.duration && duration !== undefined)
    throw new RangeError(`${kind} takes no duration (+${duration})`);
  return {
    spec,
    kind,
    target,
    atMs: timeOf('T', at),
    durationMs: duration === undefined ? undefined : timeOf('D', duration),
  };
}

function timeOf(name: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new RangeError(`${name} "${text}" is ${(error as Error).message}`);
  }
}

/**
 * Binds read specs to what they act on.
 *
 * @throws {Error} naming the spec when a fault needs what `targets` lacks (a lab-started cluster,
 *   a Redis URL) or names an instance that does not exist.
 */
export function scheduleFaults(specs: FaultSpec[], targets: FaultTargets): ScheduledFault[] {
  return specs.map((spec) => ({
    ...spec,
    ...actions(spec.kind, spec.target, spec.durationMs, targets, spec.spec),
  }));
}

function actions(
  kind: string,
  target: string | undefined,
  durationMs: number | undefined,
  targets: FaultTargets,
  spec: string,
): Pick<ScheduledFault, 'start' | 'stop' | 'detail'> {
  const needCluster = () => {
    if (!targets.cluster)
      throw new Error(`--fault ${spec} needs a cluster the lab started (--start)`);
    return targets.cluster;
  };
  const needDuration = () => {
    if (durationMs === undefined) throw new Error(`--fault ${spec} needs a duration (+D)`);
    return durationMs;
  };
  const needRedis = () => {
    if (!targets.cluster && !targets.redisUrl) {
      throw new Error(`--fault ${spec} needs --redis-url or a cluster the lab started (--start)`);
    }
  };
  switch (kind) {
    case 'kill-pubsub': {
      needRedis();
      const nodes = targets.cluster?.redisCluster;
      if (nodes) return { detail: 'every node', start: () => killPubsubEverywhere(nodes) };
      return { start: () => redisCommand(targets, ['CLIENT', 'KILL', 'TYPE', 'pubsub']) };
    }
    case 'pause-writes': {
      needRedis();
      const ms = needDuration();
      if (targets.cluster?.redisCluster) {
        throw new Error(`--fault ${spec}: not on a Redis Cluster (pause one node: failover@T)`);
      }
      return { start: () => redisCommand(targets, ['CLIENT', 'PAUSE', String(ms), 'WRITE']) };
    }
    case 'restart-redis': {
      const cluster = needCluster();
      if (cluster.redisCluster) {
        throw new Error(`--fault ${spec}: restarts a single Redis; on a cluster use kill-master@T`);
      }
      return { start: () => cluster.restartRedis() };
    }
    case 'failover':
    case 'kill-master':
    case 'migrate-slot':
      return redisClusterActions(kind, targets, spec);
    case 'freeze':
    case 'kill': {
      const instance = needCluster().instances.find((candidate) => candidate.name === target);
      if (!instance) throw new Error(`--fault ${spec}: no instance ${target}`);
      if (kind === 'kill') {
        return { detail: instance.name, start: async () => void (await instance.restart()) };
      }
      needDuration();
      return {
        detail: instance.name,
        start: async () => void instance.process().kill('SIGSTOP'),
        stop: async () => void instance.process().kill('SIGCONT'),
      };
    }
    case 'slow-db': {
      const cluster = needCluster();
      needDuration();
      return {
        start: async () => void cluster.database().kill('SIGSTOP'),
        stop: async () => void cluster.database().kill('SIGCONT'),
      };
    }
    case 'sql-write':
    case 'bulk-write': {
      const cluster = needCluster();
      const all = workloadIds(targets.keys ?? 50);
      // A quarter of the users, spread over the key range (the hot keys of the Zipf workload
      // included); the bulk write, every one in one statement.
      const ids = kind === 'bulk-write' ? all : all.filter((_, i) => i % 4 === 0);
      return {
        detail: `${ids.length} users`,
        start: (context) => databaseWrite(cluster.databaseUrl, ids, kind, context),
      };
    }
    case 'crash-after-commit': {
      const cluster = needCluster();
      const instance = cluster.instances.at(-1);
      if (!instance) throw new Error(`--fault ${spec}: the cluster has no instance`);
      return {
        detail: instance.name,
        start: (context) => crashAfterCommit(cluster, instance, targets.keys ?? 50, context),
      };
    }
    default:
      throw new Error(`--fault ${spec}: unknown fault "${kind}"`);
  }
}

/** The workload's user ids, `1`…`keys`. */
function workloadIds(keys: number): string[] {
  return Array.from({ length: keys }, (_, i) => String(i + 1));
}

/**
 * One UPDATE of `ids` straight through the database, as psql or a batch job would: the triggers
 * give each row its version, read back with RETURNING. Recorded as writes of the session
 * `DATABASE_SESSION`, invoked when the statement was sent and completed when its commit returned.
 */
async function databaseWrite(
  databaseUrl: string,
  ids: string[],
  kind: string,
  context: FaultContext,
): Promise<Operation[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const marker = `${kind}-${nanoid(8)}`;
    const invokeMs = context.now();
    const { rows } = await client.query<{ id: string; version: string; name: string }>(
      'UPDATE users SET name = $1 WHERE id = ANY($2) RETURNING id, version::text, name',
      [marker, ids],
    );
    const completeMs = context.now();
    return rows.map((row) => ({
      session: DATABASE_SESSION,
      kind: 'write',
      key: row.id,
      instance: DATABASE_WRITER,
      invokeMs,
      completeMs,
      ok: true,
      version: Number(row.version),
      value: row.name,
    }));
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Restarts `instance` with `CRASH_AFTER_COMMIT=1`, writes one user through it (the instance
 * SIGKILLs itself once the database committed, before any Redis call: the request fails), reads
 * the committed row back from the database and starts the instance again without the setting.
 * The write is recorded as the database committed it, completed when it was read back; nothing
 * when it did not commit (a workload write reached the armed instance first and was the one lost).
 */
async function crashAfterCommit(
  cluster: LabCluster,
  instance: LabCluster['instances'][number],
  keys: number,
  context: FaultContext,
): Promise<Operation[]> {
  const client = new pg.Client({
    connectionString: cluster.databaseUrl,
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => {});
  let committed: Operation[] = [];
  try {
    await client.connect();
    // The workload writes through the armed instance too: one of its writes may commit first and
    // end the instance before the fault's own write arrives (a crash after commit all the same,
    // recorded as the workload's failed write). Then arm it again, a few times at most. The
    // fault writes a user the workload never writes, so that reading the row back tells whether
    // this write committed (a workload write of the same user could have replaced it).
    for (let attempt = 0; attempt < 5 && committed.length === 0; attempt++) {
      // A workload write may even reach it while it starts: it ends before it is ready.
      const armed = await instance.restart({ CRASH_AFTER_COMMIT: '1' }).then(
        () => true,
        () => false,
      );
      if (!armed) continue;
      const key = String(keys + 1 + attempt);
      const marker = `crash-${nanoid(8)}`;
      const write = await writeUser(
        instance,
        { session: DATABASE_SESSION, key },
        context.now,
        marker,
      );
      const { rows } = await client.query<{ version: string; name: string }>(
        'SELECT version::text, name FROM users WHERE id = $1',
        [key],
      );
      const row = rows[0];
      if (row?.name === marker) {
        const { status: _status, error: _error, ...done } = write;
        committed = [
          { ...done, ok: true, version: Number(row.version), completeMs: context.now() },
        ];
      }
    }
  } finally {
    await client.end().catch(() => {});
    await instance.restart({ CRASH_AFTER_COMMIT: '0' });
  }
  return committed;
}

/** The Redis Cluster faults, on the slot of user 1 (a key every workload uses). */
function redisClusterActions(
  kind: 'failover' | 'kill-master' | 'migrate-slot',
  targets: FaultTargets,
  spec: string,
): Pick<ScheduledFault, 'start' | 'detail'> {
  const nodes = targets.cluster?.redisCluster;
  if (!nodes) throw new Error(`--fault ${spec} needs a Redis Cluster the lab started (--cluster)`);
  const slot = slotOfUser('1');
  const detail = `slot ${slot} (user 1)`;
  const run = { failover, 'kill-master': killMaster, 'migrate-slot': migrateSlot }[kind];
  // One topology change at a time: a fault due while another is under way (a slot migration
  // whose source is about to be killed) starts once that one is over.
  const start = () => {
    const previous = clusterFaultsUnderWay.get(nodes) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => run(nodes, slot));
    clusterFaultsUnderWay.set(nodes, next);
    return next;
  };
  return { detail, start };
}

/** The last topology change started on each Redis Cluster. */
const clusterFaultsUnderWay = new WeakMap<object, Promise<string>>();

async function redisCommand(targets: FaultTargets, command: string[]): Promise<void> {
  const url = targets.cluster?.redis?.url ?? targets.redisUrl;
  if (!url) throw new Error(`${command.join(' ')} needs --redis-url or a lab-started cluster`);
  const client = createClient({ url, socket: { reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.sendCommand(command);
  } finally {
    if (client.isOpen) client.destroy();
  }
}
