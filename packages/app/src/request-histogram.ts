import type { Metric, Registry } from 'prom-client';

/** One label set's buckets: `counts[i]` observations fell in bucket `i` (the last is `+Inf`). */
interface Series {
  labels: Record<string, string>;
  counts: number[];
  sum: number;
  count: number;
}

type ByTier = Map<string, Series>;
type ByStatus = Map<number, ByTier>;
type ByRoute = Map<string, ByStatus>;

/** The HTTP request histogram: `observe` is on every request's path, so it must stay cheap. */
export interface RequestHistogram {
  /** Counts one request's duration under its method, route pattern, status and tier. */
  observe(method: string, route: string, status: number, tier: string, seconds: number): void;
}

/**
 * A labelled histogram registered in `registry` like any prom-client metric, but observed
 * without building, validating and hashing a labels object per call (which prom-client's
 * `Histogram#observe` does, at ~2 µs a request): series are found through nested maps, one per
 * label, and turned into exposition values only at scrape time. The callers keep the label
 * values bounded (route patterns, never raw paths).
 */
export function createRequestHistogram(
  registry: Registry,
  options: { name: string; help: string; buckets: number[] },
): RequestHistogram {
  const { name, help, buckets } = options;
  const methods = new Map<string, ByRoute>();

  function series(method: string, route: string, status: number, tier: string): Series {
    const byRoute = methods.get(method) ?? put(methods, method, new Map());
    const byStatus = byRoute.get(route) ?? put(byRoute, route, new Map());
    const byTier = byStatus.get(status) ?? put(byStatus, status, new Map());
    const found = byTier.get(tier);
    if (found) return found;
    const labels = { method, route, status: String(status), cache: tier };
    const counts = new Array<number>(buckets.length + 1).fill(0);
    return put(byTier, tier, { labels, counts, sum: 0, count: 0 });
  }

  function values() {
    const out: { metricName: string; labels: Record<string, string | number>; value: number }[] =
      [];
    for (const byRoute of methods.values())
      for (const byStatus of byRoute.values())
        for (const byTier of byStatus.values())
          for (const { labels, counts, sum, count } of byTier.values()) {
            let cumulative = 0;
            counts.forEach((n, i) => {
              cumulative += n;
              const le = i < buckets.length ? (buckets[i] as number) : '+Inf';
              out.push({
                metricName: `${name}_bucket`,
                labels: { ...labels, le },
                value: cumulative,
              });
            });
            out.push({ metricName: `${name}_sum`, labels, value: sum });
            out.push({ metricName: `${name}_count`, labels, value: count });
          }
    return out;
  }

  // The registry reads a metric through get() (and reset() on resetMetrics()): this object
  // speaks that protocol without being one of prom-client's classes.
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values: values() }),
    reset: () => methods.clear(),
  };
  registry.registerMetric(metric as unknown as Metric);

  return {
    observe(method, route, status, tier, seconds) {
      const s = series(method, route, status, tier);
      let bucket = 0;
      while (bucket < buckets.length && seconds > (buckets[bucket] as number)) bucket++;
      s.counts[bucket] = (s.counts[bucket] as number) + 1;
      s.sum += seconds;
      s.count++;
    },
  };
}

function put<K, V>(map: Map<K, V>, key: K, value: V): V {
  map.set(key, value);
  return value;
}
