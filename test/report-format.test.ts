import { table } from '@cachelab/lab/bench/report-format.ts';
import { describe, expect, it } from 'vitest';

describe("the benchmark report's Markdown tables", () => {
  it('pads every column and right-aligns the ones marked ---:', () => {
    expect(
      table(
        ['path', 'p50 ms', 'lost'],
        [
          ['l1-hit', '0.27', '0'],
          ['raw node-redis', '12.5', '10'],
        ],
        ['---', '---:', '---:'],
      ),
    ).toBe(
      [
        '| path           | p50 ms | lost |',
        '| -------------- | -----: | ---: |',
        '| l1-hit         |   0.27 |    0 |',
        '| raw node-redis |   12.5 |   10 |',
      ].join('\n'),
    );
  });
});
