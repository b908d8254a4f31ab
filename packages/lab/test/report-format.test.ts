import { table } from '@cachelab/lab/bench/report-format.ts';
import { textTable } from '@cachelab/lab/text-table.ts';
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

describe('the plain-text terminal tables', () => {
  const rows = [
    ['instance', 'state', 'p99 prop'],
    ['app-1', 'up', '0.42ms'],
    ['app-22', 'down (ECONNREFUSED)', '-'],
  ];

  it('aligns columns two spaces apart, the marked ones right, without trailing spaces', () => {
    expect(textTable(rows, { right: [false, false, true] })).toEqual([
      'instance  state                p99 prop',
      'app-1     up                     0.42ms',
      'app-22    down (ECONNREFUSED)         -',
    ]);
  });

  it('indents every line and rules the header as wide as each column', () => {
    expect(textTable(rows.slice(0, 2), { indent: '  ', rule: true })).toEqual([
      '  instance  state  p99 prop',
      '  --------  -----  --------',
      '  app-1     up     0.42ms',
    ]);
    expect(textTable([['only', 'headers']], { rule: true })).toEqual([
      'only  headers',
      '----  -------',
    ]);
  });

  it('keeps every row on one line: control characters print as ?, missing cells as empty', () => {
    expect(textTable([['a\tb', 'x\ny'], ['\u001b[31mred']])).toEqual(['a?b       x?y', '?[31mred']);
    expect(textTable([])).toEqual([]);
  });
});
