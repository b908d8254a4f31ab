/**
 * The run file: what `npm start` records about the cluster it runs, so that the checkout's other
 * scripts (`npm run consistency`, `npm run stats`) find their own cluster and never another
 * checkout's that happens to listen on the same ports. One file per `BASE_PORT`
 * (`.data/run-<BASE_PORT>.json`, git-ignored), written once the cluster is ready and removed when
 * `npm start` exits.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ClusterConfig, ROOT, readClusterConfig } from './config.ts';
import { checkReadiness } from './readiness.ts';

/** What `npm start` records about its run. */
export interface RunRecord {
  /** `CLUSTER_RUN_ID`: the token every instance of the run reports on `/readyz`. */
  runId: string;
  /** The instances' URLs, in order. */
  urls: string[];
  /** The Redis the instances use (may carry a password: the file stays in the checkout). */
  redisUrl: string;
  /** The pid of `npm start`'s process. */
  pid: number;
}

/** The run file of the cluster on `basePort`: `<root>/.data/run-<basePort>.json`. */
export function runFilePath(basePort: number): string {
  return join(ROOT, '.data', `run-${basePort}.json`);
}

/** Writes the run file of `config`'s cluster (synchronously: it is called once, at ready). */
export function writeRunFile(config: ClusterConfig, record: RunRecord): void {
  const path = runFilePath(config.basePort);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

/** Removes the run file of `config`'s cluster if it still records `runId` (synchronous: on exit). */
export function removeRunFile(config: ClusterConfig, runId: string): void {
  if (readRunFile(config.basePort)?.runId === runId) rmSync(runFilePath(config.basePort));
}

/** The run file on `basePort`, or undefined when there is none (or it cannot be read). */
export function readRunFile(basePort: number): RunRecord | undefined {
  try {
    return JSON.parse(readFileSync(runFilePath(basePort), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

/** The checkout's own running cluster, as its scripts default to it. */
export interface OwnCluster {
  urls: string[];
  redisUrl: string;
}

/**
 * Finds the cluster this checkout's `npm start` runs with the settings in `env` (`BASE_PORT`,
 * `INSTANCES`, read by ./config.ts): its run file must exist and every instance's `/readyz` must
 * report that run's token.
 * @throws Error with a one-line message when the settings are invalid, there is no run file, or
 *   an instance does not answer or answers for another run.
 */
export async function findOwnCluster(env: Record<string, string | undefined>): Promise<OwnCluster> {
  const config = readClusterConfig(env);
  const urls = config.appPorts.map((port) => `http://127.0.0.1:${port}`);
  const ports =
    config.instances === 1
      ? String(config.basePort)
      : `${config.basePort}-${config.appPorts.at(-1)}`;
  const refuse = (why: string): Error =>
    new Error(
      `no cluster of this checkout runs on ${ports} (${why}); start one with \`npm start\` (BASE_PORT, INSTANCES as there) or pass --urls`,
    );
  const record = readRunFile(config.basePort);
  if (!record) throw refuse(`no ${runFilePath(config.basePort).slice(ROOT.length)}`);
  const answers = await Promise.all(urls.map((url) => checkReadiness(url, record.runId)));
  const bad = answers.findIndex((answer) => answer.state !== 'ready');
  const answer = answers[bad];
  if (answer) {
    const detail = answer.state === 'foreign' ? answer.detail : 'no ready instance answers';
    throw refuse(`${urls[bad]}: ${detail}`);
  }
  return { urls, redisUrl: record.redisUrl };
}
