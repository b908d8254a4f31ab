import { row, type Scenario } from '../scenario.ts';

const BOUND_MS = 2000;

/** X writes `writes` times; each time, how long until Y no longer serves the old version. */
export function propagation(writes: number): Scenario {
  return {
    name: 'propagation',
    musts: ['MUST-MSG-6'],
    async run(t) {
      const key = 'propagation:1';
      await t.x.call('set', { key, ...row(1) });
      let late = 0;
      for (let version = 2; version <= writes + 1; version++) {
        await t.warm(t.y, key, version - 1);
        const started = performance.now();
        const write = t.x.call('set', { key, ...row(version) });
        for (;;) {
          const peek = await t.peek(t.y, key);
          if (!peek.found || peek.version >= version) break;
          if (performance.now() - started > BOUND_MS) {
            late++;
            break;
          }
        }
        t.samples.push(performance.now() - started);
        await write;
      }
      t.check(
        ['MUST-MSG-6'],
        `each of ${writes} writes reached Y within ${BOUND_MS} ms`,
        late === 0,
        { late },
      );
    },
  };
}
