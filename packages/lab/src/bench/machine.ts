import { execFile } from 'node:child_process';
import { cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { ROOT } from './child.ts';

const run = promisify(execFile);

/** Where and on what a benchmark ran. */
export interface Machine {
  cpu: string;
  cores: number;
  ramGiB: number;
  freeRamGiB: number;
  loadAverage: number[];
  os: string;
  node: string;
  redis: string;
  gitCommit: string;
  /** True when the work tree had uncommitted changes. */
  gitDirty: boolean;
}

/** Describes this machine, the Node and Redis versions and the git commit. */
export async function describeMachine(redisUrl: string): Promise<Machine> {
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => {});
  await redis.connect();
  const info = await redis.info('server');
  await redis.close();
  const git = async (...args: string[]) =>
    (await run('git', args, { cwd: ROOT }).catch(() => ({ stdout: '' }))).stdout.trim();
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    ramGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    freeRamGiB: Number((freemem() / 2 ** 30).toFixed(1)),
    loadAverage: loadavg().map((n) => Number(n.toFixed(2))),
    os: `${platform()} ${release()}`,
    node: process.version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    gitCommit: (await git('rev-parse', '--short=12', 'HEAD')) || 'unknown',
    gitDirty: (await git('status', '--porcelain', '--untracked-files=no')) !== '',
  };
}
