import { createClient } from 'redis';
import type { LabCluster } from './cluster.ts';

/** A fault ready to run at its time. */
export interface ScheduledFault {
  kind: string;
  /** As given on the command line, for the report. */
  spec: string;
  atMs: number;
  durationMs?: number;
  detail?: string;
  start(): Promise<void>;
  stop?(): Promise<void>;
}

/** What faults can act on. */
export interface FaultTargets {
  /** Redis to send CLIENT KILL / CLIENT PAUSE to. */
  redisUrl?: string;
  /** Present when the lab started the cluster itself: processes can be frozen, killed, restarted. */
  cluster?: LabCluster;
}

/** The faults, with the form each takes on the command line (`--fault SPEC`). */
export const FAULT_HELP = [
  'kill-pubsub@T               CLIENT KILL TYPE pubsub (every subscriber connection drops)',
  'pause-writes@T+D            CLIENT PAUSE D WRITE (Redis stalls writes for D)',
  'restart-redis@T             SHUTDOWN NOSAVE and start again empty (lab-started cluster)',
  'freeze:app-N@T+D            SIGSTOP instance N, SIGCONT after D (lab-started cluster)',
  'kill:app-N@T                SIGKILL instance N and start it again (lab-started cluster)',
  'slow-db@T+D                 freeze the embedded database for D: queries wait or time out',
  'T and D: milliseconds, or with s (2s, 1.5s).',
];

const SPEC = /^([a-z-]+)(?::([A-Za-z0-9_-]+))?@(\d+(?:\.\d+)?s?)(?:\+(\d+(?:\.\d+)?s?))?$/;

/** Parses `--fault` specs into runnable faults; throws naming the spec that is wrong. */
export function parseFaults(specs: string[], targets: FaultTargets): ScheduledFault[] {
  return specs.map((spec) => {
    const match = SPEC.exec(spec);
    if (!match) throw new Error(`--fault ${spec}: expected KIND[:TARGET]@TIME[+DURATION]`);
    const [, kind = '', target, at = '0', duration] = match;
    const timing = {
      spec,
      kind,
      atMs: toMs(at),
      durationMs: duration ? toMs(duration) : undefined,
    };
    return { ...timing, ...actions(kind, target, timing.durationMs, targets, spec) };
  });
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
    case 'kill-pubsub':
      needRedis();
      return { start: () => redisCommand(targets, ['CLIENT', 'KILL', 'TYPE', 'pubsub']) };
    case 'pause-writes': {
      needRedis();
      const ms = needDuration();
      return { start: () => redisCommand(targets, ['CLIENT', 'PAUSE', String(ms), 'WRITE']) };
    }
    case 'restart-redis': {
      const cluster = needCluster();
      return { start: () => cluster.restartRedis() };
    }
    case 'freeze':
    case 'kill': {
      const instance = needCluster().instances.find((candidate) => candidate.name === target);
      if (!instance) throw new Error(`--fault ${spec}: no instance ${target}`);
      if (kind === 'kill') return { detail: instance.name, start: () => instance.restart() };
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
    default:
      throw new Error(`--fault ${spec}: unknown fault "${kind}"`);
  }
}

async function redisCommand(targets: FaultTargets, command: string[]): Promise<void> {
  const url = targets.cluster?.redis.url ?? targets.redisUrl;
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

function toMs(text: string): number {
  return text.endsWith('s') ? Math.round(Number(text.slice(0, -1)) * 1000) : Number(text);
}
