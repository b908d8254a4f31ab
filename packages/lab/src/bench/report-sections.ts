import { type Check, ms, n, pct, range, table } from './report-format.ts';
import type { HttpResults } from './sections/http.ts';
import type { L1Results } from './sections/l1.ts';
import type { MemoryResults } from './sections/memory.ts';
import type { OutboxResults } from './sections/outbox.ts';
import type { ProfileResults } from './sections/profile.ts';
import type { PropagationResults } from './sections/propagation.ts';
import type { StormResults } from './sections/storms.ts';
import type { BenchSettings } from './settings.ts';

/** The Markdown of one section; pushes the targets it checks. */
export function l1Section(r: L1Results, s: BenchSettings, checks: Check[]): string {
  const hit = r.rows.find((row) => row.name.includes('getOrLoad'))?.nsPerOp;
  if (hit) {
    checks.push({
      target: 'L1 hit ≤ 5× an awaited Map.get',
      measured: `${n(r.versusAwaitedMap.median)}×`,
      met: r.versusAwaitedMap.median <= 5,
    });
    checks.push({
      target: 'L1 hit ≤ 150 ns',
      measured: `${n(hit.median)} ns`,
      met: hit.median <= 150,
    });
  }
  return `## 1. L1 hit in process

ns per operation on a warm key, ${s.l1.iterations.toLocaleString('en')} operations × ${s.l1.runs} runs in one
process (the three loops alternate, so they share the machine's state); median (min–max).

${table(
  ['operation', 'ns/op'],
  r.rows.map((row) => [row.name, range(row.nsPerOp)]),
  ['---', '---:'],
)}

An L1 hit costs ${range(r.versusAwaitedMap)}× an awaited \`Map.get\` (paired per run).`;
}

/** The Markdown of one section; pushes the targets it checks. */
export function httpSection(r: HttpResults, s: BenchSettings, checks: Check[]): string {
  checks.push({
    target: 'L1-hit route ≥ 90% of the ceiling (requests/s)',
    measured: `${pct(r.l1VersusCeiling.median)} of the ceiling`,
    met: r.l1VersusCeiling.median >= 0.9,
  });
  // Paired per round as ceiling ÷ L1-hit; its median's inverse is the median of L1-hit ÷ ceiling.
  const cpuOverCeiling = 1 / r.l1VersusCeilingByCpu.median;
  checks.push({
    target: 'L1-hit route ≤ 10% more CPU per request than the ceiling',
    measured: `${pct(Math.abs(cpuOverCeiling - 1))} ${cpuOverCeiling >= 1 ? 'more' : 'less'}`,
    met: cpuOverCeiling <= 1.1,
  });
  const served = (row: HttpResults['rows'][number]) =>
    row.served ? `${pct(row.served.L1)} / ${pct(row.served.L2)} / ${pct(row.served.MISS)}` : '–';
  const rows = r.rows.map((row) => [
    `\`${row.name}\``,
    row.what,
    range(row.requestsPerSecond, (v) => String(Math.round(v))),
    range(row.p50Ms, ms),
    range(row.p99Ms, ms),
    range(row.cpuMicrosPerRequest, (v) => v.toFixed(0)),
    served(row),
    row.dbQueriesPerRequest === null ? '–' : row.dbQueriesPerRequest.toFixed(4),
    String(row.errors),
  ]);
  const { http } = s;
  return `## 2. HTTP per instance

One instance process per row, all started from the same code with its own cache namespace;
autocannon runs in a separate process (loopback, keep-alive, ${http.connections} connections,
${http.durationSeconds} s per run after a ${http.warmupSeconds} s warm-up). ${http.rounds} rounds; each round
runs every row once, in turn, so background noise hits all rows alike. Median (min–max) over the
rounds; latencies are every 2xx response's own time (not autocannon's 1 ms histogram). "Served"
is what the instance's own counters (\`/stats\`) say answered the measured reads.

${table(
  [
    'row',
    'what',
    'requests/s',
    'p50 ms',
    'p99 ms',
    'server CPU µs per request',
    'served L1 / L2 / MISS',
    'DB queries per request',
    'errors',
  ],
  rows,
  ['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:'],
)}

The L1-hit route served ${range(r.l1VersusCeiling, pct)} of the ceiling's requests/s (paired per
round); by CPU time per request (user + system time of the server process, from \`/proc\`, which
hardly depends on what else the machine runs) it costs what ${range(r.l1VersusCeilingByCpu, pct)} of the
ceiling's rate would on a saturated core. Against \`node:http\` alone (\`ceiling-node\`), it costs
${range(r.l1OverNodeByCpu, (v) => `${v.toFixed(2)}×`)} the CPU per request (paired per round): what the
observer, the validation, the L1 read and the five more headers cost (no target; older runs have
no such row).

How each row is made:
- \`ceiling\`: \`packages/lab/src/bench/workers/ceiling-server.ts\`, an Express 5 app with the instance's settings
  (no ETag, no X-Powered-By) whose one route answers the same user body from a \`Map\`.
- \`ceiling-node\`: \`packages/lab/src/bench/workers/ceiling-node-server.ts\`, \`node:http\` alone answering
  every request with the same body and the two headers \`res.json\` sets.
- \`l1-hit\`: \`GET /users/1\` on a default instance after one warming read: the instance answers it
  before its Express router, with the route's own code (\`packages/app/src/app.ts\`).
- \`l2-hit\`: the versioned strategy with \`L1_MAX_ENTRIES=0\` (L1 disabled): one Lua round trip for
  pointer and data per read.
- \`seed-design\`: \`CACHE_STRATEGY=ttl-only\`, Redis only with no L1 (the first design): one GET.
- \`miss-…\`: every request asks for a different id (cycling through ${s.seedUsers.toLocaleString('en')} seeded users) and
  \`CACHE_TTL_MS\`, \`NEGATIVE_TTL_MS\`, \`L1_TTL_MS\` are 1 ms, so nothing cached is ever reused; the
  served column shows 100% MISS. Each miss does the Redis read, the database query and the fill.
- \`no-cache-…\`: \`CACHE_STRATEGY=none\`: every read is a database query, nothing else.`;
}

/** The Markdown of one section; pushes the targets it checks. */
export function propagationSection(
  r: PropagationResults,
  s: BenchSettings,
  checks: Check[],
): string {
  const app = r.rows[0];
  if (app) {
    checks.push({
      target: 'propagation p50 < 0.6 ms',
      measured: `${ms(app.fromWriteReturnMs.p50)} ms (${ms(app.fromWriteStartMs.p50)} ms from the write's start)`,
      met: app.fromWriteReturnMs.p50 < 0.6,
    });
    checks.push({
      target: 'propagation p99 < 3 ms',
      measured: `${ms(app.fromWriteReturnMs.p99)} ms (${ms(app.fromWriteStartMs.p99)} ms from the write's start)`,
      met: app.fromWriteReturnMs.p99 < 3,
    });
  }
  const rows = r.rows.flatMap((row) => [
    [
      `**${row.name}**: from the write call's return`,
      ms(row.fromWriteReturnMs.p50),
      ms(row.fromWriteReturnMs.p90),
      ms(row.fromWriteReturnMs.p99),
      ms(row.fromWriteReturnMs.max),
      pct(row.readerFirstShare),
      String(row.lost),
    ],
    [
      `${row.name}: from the write call's start`,
      ms(row.fromWriteStartMs.p50),
      ms(row.fromWriteStartMs.p90),
      ms(row.fromWriteStartMs.p99),
      ms(row.fromWriteStartMs.max),
      '',
      '',
    ],
    [
      `${row.name}: the write call itself`,
      ms(row.writeCallMs.p50),
      ms(row.writeCallMs.p90),
      ms(row.writeCallMs.p99),
      ms(row.writeCallMs.max),
      '',
      '',
    ],
  ]);
  const stats = r.readerCacheStats;
  return `## 3. Invalidation propagation across processes

${s.propagation.writes} writes of one key (a ${s.propagation.userBytes}-byte user) by a writer process A; a reader process B
holds the key in L1 before each write. B stamps the moment its L1 no longer serves the old
version: a second listener on the invalidation channel, called right after the cache's own, reads
the key through \`getOrLoad\` (no HTTP, no polling; it would poll on \`setImmediate\` if L1 still
answered the old version: ${pct(app?.firstProbeShare ?? 0)} of writes needed no polling). Clock: ${r.clock}.
Negative delays mean B had dropped the old version before A's call returned (Redis sends the
message to B before its reply to A). The raw row is node-redis \`await SET\` then \`await PUBLISH\`
between the same two kinds of process, in the same run.

${table(['path', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'B first', 'lost'], rows, ['---', '---:', '---:', '---:', '---:', '---:', '---:'])}

${stats ? `B's cache itself (\`/stats\` → \`propagationMs\`, from the writer's stamp before it sent the Lua call to B's receipt, wall clock): p50 ${ms(stats.p50 ?? Number.NaN)} ms, p99 ${ms(stats.p99 ?? Number.NaN)} ms, max ${ms(stats.max ?? Number.NaN)} ms over the last ${Math.min(stats.count, 1024)} messages.` : ''}`;
}

/** The Markdown of one section; pushes the targets it checks. */
export function stormsSection(r: StormResults, s: BenchSettings, checks: Check[]): string {
  const worst = Math.max(...r.storms.flatMap((row) => row.dbQueriesPerInstance));
  checks.push({
    target: 'miss storm: ≤ 1 database read per instance',
    measured: `at most ${worst}`,
    met: worst <= 1,
  });
  // With the load lease, a key missing everywhere costs one load for the whole cluster.
  const evicted = r.storms.find((row) => row.name === 'versioned, evicted');
  if (evicted) {
    const cluster = evicted.dbQueriesPerInstance.reduce((a, b) => a + b, 0);
    const { waits, timeouts, degradedReads } = evicted.lease;
    checks.push({
      target:
        'miss storm after eviction (key missing everywhere): database loads for the cluster = 1',
      measured: `${cluster} (lease waits ${waits}, waits given up ${timeouts}, failed Redis reads ${degradedReads})`,
      met: cluster === 1,
    });
  }
  const z = r.zipf;
  return `## 4. Miss storms and a Zipf workload

${s.storms.reads} concurrent reads (fetch, spread evenly) of one hot key over ${s.storms.instances} instances, \`DB_LATENCY_MS=${s.storms.dbLatencyMs}\`,
each cluster in its own namespace: right after a write through instance 1 (every other instance has
received its invalidation first), or, for \`versioned, evicted\`, with no write at all: the warm key's
Redis entries deleted and every instance's L1 copy expired, so that it is missing everywhere and
only the load lease (\`LOAD_LEASE_MS\`) stands between the storm and one load per instance.
Database reads are the instances' own query counters (\`/stats\` → \`database.queries\`), the write's
own query excluded. Lease columns, from the instances' \`/stats\`: reads served by waiting for
another instance's load, waits given up (lease expired or released without a usable fill, or Redis
unreadable: then the instance loads itself), and Redis reads that failed (timed out or skipped
while Redis was slow: each then goes on to a load).

${table(
  [
    'scenario',
    'what',
    'database reads per instance',
    'cluster',
    'served L1 / L2 / MISS',
    'lease waits / given up / failed Redis reads',
    'answers older than the write',
  ],
  r.storms.map((row) => [
    row.name,
    row.what,
    row.dbQueriesPerInstance.join(', '),
    String(row.dbQueriesPerInstance.reduce((a, b) => a + b, 0)),
    `${row.served.L1} / ${row.served.L2} / ${row.served.MISS}`,
    `${row.lease.waits} / ${row.lease.timeouts} / ${row.lease.degradedReads}`,
    String(row.olderThanWrite),
  ]),
)}

Zipf workload: ${z.requests.toLocaleString('en')} reads of ids drawn with P(k) ∝ 1/k^${z.exponent} over ${z.keys.toLocaleString('en')} users (seed
${s.storms.zipfSeed}), from a cold cache, over ${z.instances} default instances (autocannon, ${s.storms.zipfConnections} connections spread
over them, \`DB_LATENCY_MS=0\`); then the same reads against one \`CACHE_STRATEGY=none\` instance.

${table(
  ['', 'with cachelab', 'no cache'],
  [
    ['hit ratio (L1 / L2)', `${pct(z.hitRatio)} (${pct(z.l1Share)} / ${pct(z.l2Share)})`, '0%'],
    [
      'database queries',
      z.dbQueriesWithCache.toLocaleString('en'),
      z.dbQueriesWithoutCache.toLocaleString('en'),
    ],
    ['database queries saved', pct(z.dbQueriesSaved), ''],
    [
      'requests/s',
      String(Math.round(z.requestsPerSecondWithCache)),
      String(Math.round(z.requestsPerSecondWithoutCache)),
    ],
  ],
)}`;
}

/** The Markdown of one section; pushes the targets it checks. */
export function memorySection(r: MemoryResults, checks: Check[]): string {
  checks.push({
    target: 'instance RSS once ready ≤ 100 MiB (compiled, remote database)',
    measured: `${n(r.instance.rssEmptyMiB)} MiB`,
    met: r.instance.rssEmptyMiB <= 100,
  });
  return `## 5. Memory

Heap per L1 entry (\`--expose-gc\`, heap after a full GC with ${r.entries.toLocaleString('en')} entries minus before), each a
user of ${r.userJsonBytes} bytes of JSON parsed into an object as a loader returns it:

${table(
  ['', 'bytes'],
  [
    ['the user object alone', n(r.bytesPerUserObject)],
    ['one L1 entry, user included', n(r.bytesPerL1Entry)],
    [
      'what L1 adds per entry (key, entry, frozen read result, map slot)',
      n(r.bytesPerL1Entry - r.bytesPerUserObject),
    ],
  ],
  ['---', '---:'],
)}

An instance process against a database in another process (compiled JavaScript,
\`node packages/app/dist/main.js\`, as \`npm start\` runs it) had an RSS of ${n(r.instance.rssEmptyMiB)} MiB once ready, ${n(r.instance.rssWarmMiB)} MiB after
${r.instance.l1Entries.toLocaleString('en')} reads of one key (what the traffic alone grows), and ${n(r.instance.rssFullMiB)} MiB after ${r.instance.l1Entries.toLocaleString('en')} reads of distinct
users had filled its L1: ${n(r.instance.rssFullMiB - r.instance.rssWarmMiB)} MiB for the entries and what loading them left behind.
The same instance run from its sources under tsx (development, and the tests) had ${n(r.instance.rssEmptyTsxMiB)} MiB once ready.`;
}

/** The Markdown of one section; pushes the targets it checks. */
export function profileSection(r: ProfileResults): string {
  const us = (v: number) => v.toFixed(2);
  const blocks = r.summaries.map((p) => {
    const origins = Object.entries(p.byOrigin)
      .map(([k, v]) => `${k} ${us(v)}`)
      .join(', ');
    return `- **${p.target}**: ${us(p.busyMicrosPerRequest)} µs of CPU per request over ${p.requests.toLocaleString('en')} requests. By origin (µs per request): ${origins}.`;
  });
  const [app, ceiling] = r.summaries;
  const ratio =
    app && ceiling ? ceiling.busyMicrosPerRequest / app.busyMicrosPerRequest : Number.NaN;
  return `## Where the L1-hit instance spends its CPU (profiles)

The L1-hit instance and the ceiling server, each alone under the same load as in section 2 with
\`--cpu-prof\`; only samples taken while the load ran count, idle time left out (raw profiles:
\`${r.directory.replace(/^.*\/(\.tmp\/)/, '$1')}\`, not committed). CPU per request is the number that decides
requests/s when the server's core is the bottleneck: by it the instance can reach ${pct(ratio)} of the
ceiling.

${blocks.join('\n')}

What an L1-hit request does, in order: the request observer (sets \`X-Request-Id\` — the client's
if well-formed, else a fresh UUID — and \`X-Instance\`, and keeps the start time; when Node
publishes the response's finish on its \`http.server.response.finish\` diagnostics channel, it
observes the request-duration histogram); then, before Express, the path and method check, id
validation and three header reads (\`X-Min-Version\`, \`X-Consistency\`, \`If-None-Match\`);
\`cache.getLocal\`, the synchronous L1 hit (no promise); and five more response headers than the
ceiling (\`X-Request-Id\`, \`X-Instance\`, \`X-Cache\`, \`X-Version\`, \`ETag\`), which \`setHeader\`,
\`writeHead\` and \`_storeHeader\` build and send. It skips what the ceiling's Express does per
request (\`app.handle\`, which resets the prototypes of the request and response; the router's
matching and \`next\`; \`res.json\` and \`res.send\`): a miss, an error or any other route goes
through the same Express app as before. cachelab's own code is the \`cachelab library\` and
\`cachelab app\` rows above.

Functions (self time) that cost the instance more than the ceiling, µs per request:

${table(
  ['function', 'L1-hit instance', 'ceiling'],
  r.gap.map((g) => [`\`${g.name}\``, us(g.l1Hit), us(g.ceiling)]),
  ['---', '---:', '---:'],
)}`;
}

/** The Markdown of one section; pushes the targets it checks. */
export function outboxSection(r: OutboxResults, s: BenchSettings, checks: Check[]): string {
  const polling = r.bypass.filter((row) => !row.listen);
  const notified = r.bypass.find((row) => row.listen);
  if (polling.length > 0) {
    const worst = Math.max(...polling.map((row) => row.fromCommitMs.p99));
    checks.push({
      target: 'write behind the instances, polling: p99 ≤ 1 s from commit to every instance',
      measured: polling.map((row) => `${ms(row.fromCommitMs.p99)} ms (${row.name})`).join(', '),
      met: worst <= 1000 && polling.every((row) => row.lost === 0),
    });
  }
  if (notified) {
    checks.push({
      target: 'write behind the instances, NOTIFY: p99 ≤ 50 ms from commit to every instance',
      measured: `${ms(notified.fromCommitMs.p99)} ms (${notified.name})`,
      met: notified.fromCommitMs.p99 <= 50 && notified.lost === 0,
    });
  }
  const tenThousand = r.bulk.filter((row) => row.rows >= 10_000);
  if (tenThousand.length > 0 || r.bulk.length > 0) {
    const rows = tenThousand.length > 0 ? tenThousand : r.bulk;
    checks.push({
      target: '10,000-row UPDATE served by every instance ≤ 2 s',
      measured: rows
        .map((row) => `${n(row.servedMs / 1000)} s (${row.name}, ${row.rows} rows)`)
        .join(', '),
      met:
        tenThousand.length > 0 &&
        tenThousand.every((row) => row.servedMs <= 2000 && row.staleInSweep === 0),
    });
  }
  if (r.writeCostShare.length > 0) {
    checks.push({
      target: 'the outbox costs ≤ 15% of writes/s',
      measured: r.writeCostShare
        .map((row) => `${pct(row.fewerWritesPerSecond)} fewer (${row.database})`)
        .join(', '),
      met: r.writeCostShare.every((row) => row.fewerWritesPerSecond <= 0.15),
    });
  }
  const o = s.outbox;
  return `## 7. Writes behind the instances (the outbox)

${r.instances} instances (tsx) with long TTLs (\`CACHE_TTL_MS\`, \`L1_TTL_MS\` 10 min), so only an announcement makes
them drop a row; relay settings \`OUTBOX_POLL_MS=250\`, \`OUTBOX_BATCH_SIZE=${r.batchSize}\`. PostgreSQL: ${r.postgres}
(a server of the bench's own, \`fsync=off\`). The embedded PGlite server does not deliver NOTIFY: there the
relay only polls.

**Staleness of a write that bypasses the instances.** ${o.writes} single-row \`UPDATE … RETURNING version\` straight
in the database, one at a time; from the statement's return (commit) to the last instance answering
the new version, every instance read in a tight loop (an upper bound: the read's own round trip is
included).

${table(
  ['database, relay', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'lost'],
  r.bypass.map((row) => [
    row.name,
    ms(row.fromCommitMs.p50),
    ms(row.fromCommitMs.p90),
    ms(row.fromCommitMs.p99),
    ms(row.fromCommitMs.max),
    String(row.lost),
  ]),
  ['---', '---:', '---:', '---:', '---:', '---:'],
)}

**A bulk UPDATE.** Every row held in every instance's L1 first; then one \`UPDATE users SET age = age + 1\`
of all of them. "Relayed": the outbox empty (every row announced, its rows deleted). "Served": every
instance answering the new version of a sample of ~50 rows spread over the ids (the last ones
included), read in rounds; then a full sweep of every row on every instance counts what is still old.

${table(
  ['database, relay', 'rows', 'UPDATE s', 'relayed s', 'served everywhere s', 'old in the sweep'],
  r.bulk.map((row) => [
    row.name,
    row.rows.toLocaleString('en'),
    n(row.statementMs / 1000),
    n(row.relayedMs / 1000),
    n(row.servedMs / 1000),
    String(row.staleInSweep),
  ]),
  ['---', '---:', '---:', '---:', '---:', '---:'],
)}

**What the outbox costs a write.** PUTs through the instances (${o.writeConnections} concurrent writers from the bench
process, round robin, ${o.writeSeconds} s per run, ${o.writeRounds} rounds alternating the order). "no outbox": the same
instances with the outbox's two triggers disabled (\`ALTER TABLE users DISABLE TRIGGER users_outbox,
users_outbox_notify\`): the version trigger still runs, no outbox row is written, the relays find
nothing. "outbox": every write also inserts its outbox row, and the relays claim, announce (a second
time: the write path announced it already) and delete it, at their poll: an instance's own writes do
not NOTIFY (its connections set \`cachelab.wake_relay=off\`; NOTIFY serialises the commits that send
one). Median (min–max) over the rounds.

${table(
  ['database', 'mode', 'writes/s', 'p50 ms', 'p99 ms', 'errors'],
  r.writeCost.map((row) => [
    row.name,
    row.mode,
    range(row.writesPerSecond, (v) => String(Math.round(v))),
    range(row.p50Ms, ms),
    range(row.p99Ms, ms),
    String(row.errors),
  ]),
  ['---', '---', '---:', '---:', '---:', '---:'],
)}${errorLines(r)}`;
}

function errorLines(r: OutboxResults): string {
  const lines = r.writeCost
    .filter((row) => row.errors > 0)
    .map(
      (row) =>
        `- ${row.name}, ${row.mode}: ${Object.entries(row.errorKinds ?? {})
          .map(([kind, count]) => `${count}× ${kind}`)
          .join(', ')}`,
    );
  return lines.length > 0 ? `\n\nFailed writes:\n${lines.join('\n')}` : '';
}
