import { Router } from 'express';
import type { AppDeps, Check } from '../deps.ts';
import type { AppMetrics } from '../metrics.ts';
import { methodNotAllowed } from '../middleware/errors.ts';
import type { StatsResponse, StatsResponseMemory } from '../stats-response.ts';

const CHECK_TIMEOUT_MS = 1000;

/**
 * `/healthz` (the process is alive), `/readyz` (it can serve), `/stats` (counters as JSON) and
 * `/metrics` (Prometheus text).
 */
export function opsRouter(deps: AppDeps, metrics: AppMetrics): Router {
  const router = Router();
  const startedAt = Date.now();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // Ready means the database answers: without Redis an instance still serves, only slower.
  router.get('/readyz', async (_req, res) => {
    const [redis, database, cluster] = await Promise.all([
      probe(deps.checks.redis),
      probe(deps.checks.database),
      deps.checks.cluster ? probe(deps.checks.cluster) : undefined,
    ]);
    const draining = deps.isDraining?.() ?? false;
    // A Redis Cluster it cannot use as it knows it (a slot without a node) is not an outage to
    // ride out on the database: it is the instance's own view, which a rediscovery mends.
    const ready = database === 'ok' && (cluster ?? 'ok') === 'ok' && !draining;
    const status = draining
      ? 'draining'
      : !ready
        ? 'unavailable'
        : redis === 'ok'
          ? 'ready'
          : 'degraded';
    // L1 trust is reported, not required: an untrusted L1 only means reads go to Redis.
    const cache = deps.cache.stats();
    const l1 = cache.strategy !== 'versioned' ? 'none' : cache.trusted ? 'trusted' : 'untrusted';
    // Reads served without Redis (from the database) since start: the cost of an outage.
    const { degradedReads, redisErrors, loadsShed } = cache;
    res.status(ready ? 200 : 503).json({
      status,
      // Only under npm start: lets it tell its own instances from another cluster's.
      ...(deps.instance.runId === undefined ? {} : { run: deps.instance.runId }),
      checks: { redis, database, ...(cluster === undefined ? {} : { cluster }) },
      l1,
      counts: { degradedReads, redisErrors, loadsShed },
    });
  });

  router.get('/stats', (_req, res) => {
    const cache = deps.cache.stats();
    const hits = cache.l1Hits + cache.l2Hits;
    const body: StatsResponse = {
      instance: deps.instance,
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      http: { requests: metrics.apiRequests() },
      cache: {
        ...cache,
        hitRatio: cache.reads === 0 ? null : hits / cache.reads,
      },
      database: deps.users.stats(),
      outbox: deps.outbox?.stats() ?? null,
      memory: memoryUsage(),
    };
    res.json(body);
  });

  router.get('/metrics', async (_req, res) => {
    const text = await metrics.scrape();
    res.type(metrics.registry.contentType).send(text);
  });

  // One route per path, so that a 405 is labelled with its path in /metrics like the GETs.
  for (const path of ['/healthz', '/readyz', '/stats', '/metrics']) {
    router.all(path, methodNotAllowed(['GET', 'HEAD']));
  }

  return router;
}

/** The process's memory in bytes, for watching growth under load. */
function memoryUsage(): StatsResponseMemory {
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

async function probe(check: Check): Promise<'ok' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}
