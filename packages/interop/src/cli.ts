/**
 * `npm run interop -- --impl A [--impl B …] [--allow-missing] [--only single|cluster]
 * [--scenario NAME …] [--writes N]`:
 * runs the interop harness (protocol/INTEROP.md) and prints PASS or FAIL per MUST of
 * protocol/SPEC.md. Exit 0: every MUST passed; 1: one failed; 2: usage error or an adapter
 * that could not start.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatReport } from './report.ts';
import { runHarness, UsageError } from './run.ts';
import type { TopologyKind } from './topology.ts';

const USAGE =
  'usage: npm run interop -- --impl NAME [--impl NAME …] [--allow-missing] [--only single|cluster] [--scenario NAME …] [--writes N]';
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function parse() {
  const { values } = parseArgs({
    options: {
      impl: { type: 'string', multiple: true, default: [] },
      'allow-missing': { type: 'boolean', default: false },
      only: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      writes: { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const writes = Number(values.writes);
  if (values.help) return undefined;
  if (values.impl.length === 0) throw new UsageError('at least one --impl is needed');
  if (values.only !== undefined && values.only !== 'single' && values.only !== 'cluster') {
    throw new UsageError('--only must be single or cluster');
  }
  if (!Number.isSafeInteger(writes) || writes < 1 || writes > 10_000) {
    throw new UsageError('--writes must be an integer from 1 to 10000');
  }
  return {
    impls: values.impl,
    allowMissing: values['allow-missing'],
    topologies: values.only ? [values.only as TopologyKind] : undefined,
    scenarios: values.scenario,
    writes,
  };
}

try {
  const args = parse();
  if (!args) {
    console.log(USAGE);
    process.exit(0);
  }
  const report = await runHarness({ ...args, root: ROOT, log: (line) => console.log(line) });
  console.log(formatReport(report));
  process.exit(report.checks.some((c) => !c.ok) || report.checks.length === 0 ? 1 : 0);
} catch (error) {
  console.error(`interop: ${(error as Error).message}`);
  if (
    error instanceof UsageError ||
    (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  ) {
    console.error(USAGE);
  }
  process.exit(2);
}
