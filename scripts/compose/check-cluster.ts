/**
 * The `cluster` profile's checks of `npm run test:compose`, run by scripts/compose-test.sh after
 * check-stack.ts (its stack is down by then): brings up the three instances of the profile (which
 * pull in the six Redis nodes, the one-shot `redis-cluster-create` and their database) on the host
 * ports given in the environment (`CLUSTER_APP_1_HOST_PORT`, …), then checks
 *
 *   - `redis-cluster-create` exited 0 and every node says `cluster_state:ok` with 3 masters;
 *   - a write through cluster-app-1 is read at its new version on cluster-app-2 and -3 (20 writes
 *     of 5 users), and the lab's `write-then-read` ends with every write seen everywhere;
 *   - the instances' keys are spread over more than one master (they do use the cluster);
 *   - `docker compose --profile cluster down -v` leaves nothing of the project.
 *
 * Each measurement is appended as one line to the file named by the first argument. Exits
 * non-zero on the first check that fails.
 */
import { appendFileSync } from 'node:fs';
import { distribution } from '@cachelab/lab/lab/checker.ts';
import { compose, containerHealth, docker, leftovers, PROJECT, until } from './docker.ts';
import { labRun, writeAndConverge } from './probes.ts';

const measuredFile = process.argv[2];
if (!measuredFile) throw new Error('usage: check-cluster.ts MEASURED_FILE');

const APPS = ['cluster-app-1', 'cluster-app-2', 'cluster-app-3'];
const NODES = [1, 2, 3, 4, 5, 6].map((n) => `redis-node-${n}`);
const urls = APPS.map((_, i) => {
  const value = process.env[`CLUSTER_APP_${i + 1}_HOST_PORT`];
  if (!value || !/^\d+$/.test(value)) throw new Error(`CLUSTER_APP_${i + 1}_HOST_PORT must be set`);
  return `http://127.0.0.1:${value}`;
});
const profile = ['--profile', 'cluster'];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
function measure(line: string): void {
  appendFileSync(measuredFile as string, `${line}\n`);
  console.log(`[compose-test] ${line}`);
}
/** `redis-cli ARGS` inside the container of `service`. */
const cli = (service: string, ...args: string[]) =>
  compose([...profile, 'exec', '-T', service, 'redis-cli', ...args], 30_000);

try {
  const upAt = Date.now();
  await compose([...profile, 'up', '-d', '--no-build', ...APPS], 240_000);
  await until(
    'the cluster instances to be healthy',
    240_000,
    async () => {
      const health = [...(await containerHealth())];
      const failed = health.filter(
        ([name, status]) =>
          ['dead', 'unhealthy'].includes(status) ||
          (status === 'exited' && !name.includes('redis-cluster-create')),
      );
      if (failed.length > 0) throw new Error(failed.map((entry) => entry.join(' ')).join(', '));
      const healthy = health.filter(
        ([name, status]) => APPS.some((app) => name.includes(app)) && status === 'healthy',
      );
      return healthy.length === APPS.length ? true : undefined;
    },
    1000,
  );
  measure(`cluster profile: instances healthy ${seconds(Date.now() - upAt)} after up`);

  const createId = (await compose([...profile, 'ps', '-a', '-q', 'redis-cluster-create'])).trim();
  const exit = (await docker(['inspect', '-f', '{{.State.ExitCode}}', createId])).trim();
  if (exit !== '0') throw new Error(`redis-cluster-create exited ${exit}`);
  for (const node of NODES) {
    const info = await cli(node, 'cluster', 'info');
    if (!info.includes('cluster_state:ok') || !info.includes('cluster_size:3')) {
      throw new Error(`${node}: ${info.split('\n').slice(0, 3).join(' ')}`);
    }
  }

  const writes = [];
  for (let i = 0; i < 20; i++) {
    writes.push(await writeAndConverge(urls, `compose-cluster-${i % 5}`));
  }
  const convergence = distribution(writes.flatMap((write) => write.convergenceMs));
  const staleFirst = writes.reduce((sum, write) => sum + write.staleFirstReads, 0);
  measure(
    `cluster profile: cluster-app-1 writes read on the others: ${writes.length} writes, convergence p50 ${convergence.p50.toFixed(1)} ms max ${convergence.max.toFixed(1)} ms, ${staleFirst}/${convergence.count} first reads stale`,
  );
  const wtr = (
    await labRun(['write-then-read', '--urls', urls.join(','), '--iterations', '60'])
  ).json<{ timedOut: number }[]>('-write-then-read.json');
  const timedOut = wtr.reduce((sum, row) => sum + row.timedOut, 0);
  measure(`cluster profile: lab write-then-read: ${timedOut} never seen`);
  if (timedOut > 0) throw new Error(`write-then-read: ${timedOut} writes never seen`);

  // The keys of the cache, per master: more than one holds some.
  let masters = 0;
  let withKeys = 0;
  for (const node of NODES) {
    if (!(await cli(node, 'role')).startsWith('master')) continue;
    masters++;
    if (Number((await cli(node, 'dbsize')).trim()) > 0) withKeys++;
  }
  measure(`cluster profile: keys on ${withKeys} of ${masters} masters`);
  if (masters !== 3 || withKeys < 2) throw new Error('the keys are not spread over the masters');

  await compose([...profile, 'down', '-v', '--timeout', '5'], 120_000);
  const left = await leftovers();
  if (left.length > 0) throw new Error(`down -v left ${left.join(', ')}`);
  measure(`cluster profile: down -v left nothing of ${PROJECT}`);
} catch (error) {
  console.error(`compose-test (cluster profile): ${(error as Error).message}`);
  try {
    console.error(await compose([...profile, 'ps', '-a'], 30_000));
    console.error(
      (await compose([...profile, 'logs', '--no-color', '--tail', '30'], 30_000)).trimEnd(),
    );
  } catch (diagnostics) {
    console.error(`(no diagnostics: ${(diagnostics as Error).message})`);
  }
  process.exit(1);
}
