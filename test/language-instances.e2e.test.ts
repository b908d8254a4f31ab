import { spawnSync } from 'node:child_process';
import { answerOf, BAD_REQUESTS } from '@cachelab/lab/lab/bad-requests.ts';
import { type LabCluster, startLabCluster } from '@cachelab/lab/lab/cluster.ts';
import { waitFor } from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyReport, runLab, shortWorkload } from './support/lab.ts';

// The instances of other languages (languages/<name>/) beside Node instances: one database, one
// Redis, one protocol. The lab prepares each (its launcher's `prepare`: Python's virtual
// environment, Go's build), which needs that language's toolchain.
const LANGUAGES = [
  { language: 'python', name: 'Python', toolchain: ['python3', '--version'] },
  { language: 'go', name: 'Go', toolchain: ['go', 'version'] },
] as const;
const present = (command: readonly string[]) =>
  spawnSync(command[0] as string, command.slice(1)).status === 0;
for (const { name, toolchain } of LANGUAGES) {
  if (!present(toolchain))
    console.warn(`language-instances.e2e: no ${toolchain[0]}; ${name} skipped`);
}

const JSON_TYPE = { 'content-type': 'application/json' };

describe.each(LANGUAGES)(
  'the $name instance in the mixed cluster',
  ({ language, name, toolchain }) => {
    if (!present(toolchain)) return;

    it(`keeps the history of node,node,${language} with kill-pubsub, restart-redis and sql-write: 0 stuck keys, 0 mismatches, 0 5xx`, async () => {
      const run = await runLab(
        [
          'history',
          '--start',
          '--languages',
          `node,node,${language}`,
          '--fault',
          'kill-pubsub@500ms',
          '--fault',
          'restart-redis@1200ms',
          '--fault',
          'sql-write@1800ms',
          ...shortWorkload('3s'),
        ],
        240_000,
      );
      expect(run.code, run.output).toBe(0);
      const { history, summary } = historyReport(run);
      expect(history.faults.map((fault) => fault.kind)).toEqual([
        'kill-pubsub',
        'restart-redis',
        'sql-write',
      ]);
      expect(summary.stuckKeys, run.output).toBe(0);
      expect(summary.mismatches, run.output).toBe(0);
      const served = history.operations.filter((op) => op.instance === 'app-3' && op.ok);
      expect(served.length, `the ${name} instance answered reads and writes`).toBeGreaterThan(10);
      const serverErrors = history.operations.filter((op) => (op.status ?? 0) >= 500);
      expect(serverErrors, run.output).toEqual([]);
    }, 300_000);

    describe('beside a Node instance, on one database and one Redis', () => {
      let cluster: LabCluster;
      let node: string;
      let other: string;

      beforeAll(async () => {
        cluster = await startLabCluster({
          instances: 2,
          languages: ['node', language],
          strategy: 'versioned',
          dbLatencyMs: 0,
          seedUsers: 20,
        });
        [node, other] = cluster.instances.map((instance) => instance.url) as [string, string];
      }, 180_000);
      afterAll(async () => {
        await cluster?.stop();
      });

      it(`is a ${name} instance: its /stats and /metrics have the names a Node instance uses`, async () => {
        const stats = (await (await fetch(`${other}/stats`)).json()) as Record<string, unknown>;
        const nodeStats = (await (await fetch(`${node}/stats`)).json()) as Record<string, unknown>;
        expect(Object.keys(stats).sort()).toEqual(Object.keys(nodeStats).sort());
        const cacheKeys = Object.keys(nodeStats.cache as object).sort();
        expect(Object.keys(stats.cache as object).sort()).toEqual(cacheKeys);
        const metrics = await (await fetch(`${other}/metrics`)).text();
        for (const name of [
          'cachelab_cache_reads_total',
          'cachelab_cache_hits_total{tier="L1"}',
          'cachelab_cache_l1_trusted',
          'cachelab_db_queries_total',
          'cachelab_outbox_relayed_total',
          'cachelab_http_request_duration_seconds_bucket',
        ]) {
          expect(metrics).toContain(name);
        }
        const ready = (await (await fetch(`${other}/readyz`)).json()) as { status: string };
        expect(ready.status).toBe('ready');
      });

      it('answers every bad request with the status and error code a Node instance gives', async () => {
        const differences: string[] = [];
        for (const request of BAD_REQUESTS) {
          const [fromNode, fromOther] = [
            await answerOf(node, request),
            await answerOf(other, request),
          ];
          expect(fromNode.status, request.what).toBeGreaterThanOrEqual(400);
          const compared = request.serverAnswers?.[language]
            ? [fromNode.status, fromOther.status]
            : [fromNode, fromOther];
          if (JSON.stringify(compared[0]) !== JSON.stringify(compared[1])) {
            differences.push(
              `${request.what}: node ${JSON.stringify(fromNode)}, ${language} ${JSON.stringify(fromOther)}`,
            );
          }
        }
        expect(differences).toEqual([]);
      }, 60_000);

      it(`serves on ${name} what Node wrote, and on Node what ${name} wrote`, async () => {
        const put = (base: string, name: string) =>
          fetch(`${base}/users/11`, {
            method: 'PUT',
            headers: JSON_TYPE,
            body: JSON.stringify({ name, email: 'ada@example.com', age: 36 }),
          });
        const read = async (base: string) => {
          const response = await fetch(`${base}/users/11`);
          return { ...((await response.json()) as { name: string; version: number }), response };
        };
        // Both hold the key in L1 first, so that only an invalidation can make them see a write.
        await read(node);
        await read(other);
        await read(other);
        const written = (await (await put(node, 'from-node')).json()) as { version: number };
        await waitFor(async () => (await read(other)).version === written.version, {
          timeoutMs: 5000,
          what: `the ${name} instance to serve the write of the Node instance`,
        });
        const onOther = await read(other);
        expect(onOther.name).toBe('from-node');
        expect(onOther.response.headers.get('etag')).toBe(`"v${written.version}"`);
        expect(onOther.response.headers.get('x-instance')).toMatch(/^app-2\//);

        const again = (await (await put(other, 'from-other')).json()) as { version: number };
        expect(again.version).toBe(written.version + 1);
        await waitFor(async () => (await read(node)).version === again.version, {
          timeoutMs: 5000,
          what: `the Node instance to serve the write of the ${name} instance`,
        });
        expect((await read(node)).name).toBe('from-other');

        // A delete there is a 404 on Node; a re-create on Node carries on the versions.
        expect((await fetch(`${other}/users/11`, { method: 'DELETE' })).status).toBe(204);
        await waitFor(async () => (await fetch(`${node}/users/11`)).status === 404, {
          timeoutMs: 5000,
          what: 'the Node instance to see the delete',
        });
        const recreated = await put(node, 'again');
        expect(recreated.status).toBe(201);
        expect(((await recreated.json()) as { version: number }).version).toBe(again.version + 2);
      }, 60_000);
    });
  },
);
