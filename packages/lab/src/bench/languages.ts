/**
 * The bench harnesses of each language, for the `languages` section (sections/languages.ts).
 * A language joins with one entry here, next to its adapter in protocol/adapters.json (the
 * propagation rows run through the interop harness and its adapters).
 *
 * Every command runs from the repository root, without a shell, with one JSON argument
 * `{redisUrl, iterations, runs}` (plus `writes` for `clientCache`), and prints one JSON line last:
 * - `l1Hit`: `{nsPerHit: number[], runtime: string}`, ns per L1 hit of a warm key through the
 *   public API, one sample per run;
 * - `clientCache`: `{applicable: false, reason, runtime}`, or `{applicable: true, nsPerHit,
 *   fromWriteReturnMs: number[], lost, runtime}`.
 */
export interface LanguageBench {
  /** Its adapter's name in protocol/adapters.json. */
  adapter: string;
  /** Measures the L1 hit in process. */
  l1Hit: string[];
  /** The client library's own client-side cache, measured the same way, when it has one. */
  clientCache?: { name: string; command: string[] };
  /** Programs the commands need (a path from the root, or a name on PATH); missing: skipped. */
  requires: string[];
  /** What makes them available, said when they are missing. */
  setup: string;
}

const PYTHON = 'languages/python/.venv/bin/python';

/** The languages the bench measures, by name. */
export const LANGUAGE_BENCHES: Record<string, LanguageBench> = {
  node: {
    adapter: 'node',
    l1Hit: ['node', '--import', 'tsx', 'packages/lab/src/bench/workers/l1.ts'],
    requires: ['node'],
    setup: 'npm ci',
  },
  python: {
    adapter: 'python',
    l1Hit: [PYTHON, 'languages/python/bench/l1_hit.py'],
    clientCache: {
      name: "redis-py's server-assisted client-side caching (protocol=3, CacheConfig)",
      command: [PYTHON, 'languages/python/bench/client_side_cache.py'],
    },
    requires: [PYTHON],
    setup: 'bash languages/python/setup.sh',
  },
  // `go -C` (not a cwd): every command runs from the root. `go run` compiles once per command,
  // before the program starts, so the build is in no sample (and cached after the first run).
  go: {
    adapter: 'go',
    l1Hit: ['go', '-C', 'languages/go', 'run', './bench/l1hit'],
    clientCache: {
      name: "go-redis's server-assisted client-side caching (Protocol 3, ClientSideCacheConfig)",
      command: ['go', '-C', 'languages/go', 'run', './bench/clientcache'],
    },
    requires: ['go'],
    setup: 'Go 1.26 or later on PATH (languages/go/README.md)',
  },
};
