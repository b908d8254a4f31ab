import type { TestProject } from 'vitest/node';
import { startServices } from './services.ts';

/**
 * The e2e project's setup: the shared `redis-server` and databases, and one Redis Cluster for
 * every test file that only reads and writes through one (`inject('redisClusterNodes')`). Only
 * this project starts it: `npm run test:unit` starts nothing, `npm run test:integration` no
 * cluster.
 */
export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return startServices(project, { redisCluster: true });
}
