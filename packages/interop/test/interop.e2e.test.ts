import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { byMust, formatReport } from '../src/report.ts';
import { runHarness } from '../src/run.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('the interop harness', () => {
  it('passes every MUST with node → node on a redis-server and on a Redis Cluster', async () => {
    const report = await runHarness({ root: ROOT, impls: ['node', 'node'], writes: 20 });
    const failed = report.checks.filter((check) => !check.ok);
    expect(failed, formatReport(report)).toEqual([]);
    // Every scenario ran: each of these MUSTs is observed on at least one topology.
    expect([...byMust(report.checks).keys()]).toEqual(
      expect.arrayContaining([
        'MUST-MSG-6',
        'MUST-SIGN-3',
        'MUST-STRICT-1',
        'MUST-TRUST-5',
        'MUST-KEY-5',
        'MUST-SCRIPT-1',
        'MUST-TRUST-8',
        'MUST-FENCE-1',
      ]),
    );
    expect(report.propagation.map((p) => p.samples.length)).toEqual([20, 20]);
  }, 120_000);

  it('fails an implementation whose L1 never drops an entry', async () => {
    const report = await runHarness({
      root: ROOT,
      impls: ['forgetful'],
      adapters: {
        forgetful: {
          command: ['node', '--import', 'tsx', 'packages/interop/test/forgetful-adapter.ts'],
          cwd: '.',
        },
      },
      topologies: ['single'],
      scenarios: ['write-read', 'subscriber-killed'],
    });
    const failed = [...byMust(report.checks)]
      .filter(([, m]) => m.failed.length > 0)
      .map(([id]) => id);
    expect(failed).toEqual(expect.arrayContaining(['MUST-MSG-6', 'MUST-TRUST-5']));
  }, 120_000);
});
