import { readFileSync } from 'node:fs';
import { row, type Scenario } from '../scenario.ts';

/** protocol/scripts/fill.lua, for writes behind the adapters' backs. */
export const FILL = readFileSync(
  new URL('../../../../protocol/scripts/fill.lua', import.meta.url),
  'utf8',
);

/** The pointer moves behind Y's back (no message): only a strict read notices. */
export const strict: Scenario = {
  name: 'strict',
  musts: ['MUST-STRICT-1'],
  async run(t) {
    const key = 'strict:1';
    await t.warm(t.y, key, 1);
    // FILL with no channel: version 2 is in Redis and nobody is told.
    const args = [t.keys.dataPrefix(key), '2', '60000', '120000', JSON.stringify(row(2).value)];
    await t.topology.eval(
      FILL,
      [t.keys.pointer(key), t.keys.data(key, 2)],
      [...args, '', '', 'always'],
    );
    const first = await t.read(t.y, key, row(2), { consistency: 'strict' });
    t.check(
      ['MUST-STRICT-1'],
      'a strict read does not serve L1 v1 once the pointer is at 2',
      first.version === 2 && first.tier !== 'L1',
      first,
    );
    await t.eventually(
      ['MUST-STRICT-1'],
      'a strict read serves L1 once Redis confirms its version',
      async () => {
        const again = await t.read(t.y, key, row(2), { consistency: 'strict' });
        return again.version === 2 && again.tier === 'L1';
      },
    );
  },
};

/** Read-your-writes tokens: never an answer below `minVersion`. */
export const minVersion: Scenario = {
  name: 'min-version',
  musts: ['MUST-RYW-1'],
  async run(t) {
    const key = 'min-version:1';
    await t.warm(t.y, key, 1);
    const read = await t.read(t.y, key, row(2), { minVersion: 2 });
    t.check(
      ['MUST-RYW-1'],
      'a token above L1 skips it and loads',
      read.version === 2 && read.tier !== 'L1',
      read,
    );
    const tooHigh = await t.y.request('read', { key, source: row(2), minVersion: 5 });
    const code = tooHigh.ok ? undefined : tooHigh.error.code;
    t.check(
      ['MUST-RYW-1'],
      'a token above the source fails with E_VERSION_UNAVAILABLE',
      code === 'E_VERSION_UNAVAILABLE',
      tooHigh,
    );
  },
};
