import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { extractRegions, markdownFiles, syncSnippets } from '../scripts/docs/snippets.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

describe('docs snippets in this repository', () => {
  it('match the source regions they name, in the READMEs and docs/', () => {
    const result = syncSnippets(ROOT);
    const report = result.problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
    expect(report).toEqual([]);
    expect(result.changed.map((c) => c.file)).toEqual([]);
  });

  it('cover every chapter of the tutorial', () => {
    // A chapter is docs/tutorial/node/0N-*.md; a long one is split into parts (04-2-…, 04-3-…).
    const files = markdownFiles(ROOT).filter((f) => /^docs\/tutorial\/node\/0\d-.*\.md$/.test(f));
    const chapterOf = (file: string) => Number(/\/0(\d)-/.exec(file)?.[1]);
    expect([...new Set(files.map(chapterOf))]).toEqual([1, 2, 3, 4, 5, 6]);
    // Chapters 3 and 4 are about code: they must show it from the source, not retyped, and so
    // must every part of chapter 4.
    for (const chapter of [3, 4]) {
      const parts = files.filter((f) => chapterOf(f) === chapter);
      const counts = parts.map((part) => syncSnippets(ROOT, [part]).snippets);
      expect(
        counts.reduce((a, b) => a + b, 0),
        `chapter ${chapter}`,
      ).toBeGreaterThanOrEqual(2);
      for (const [i, part] of parts.entries()) expect(counts[i], part).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('snippet extractor', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A throw-away repository with the given files; returns its root. */
  function fixture(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'cachelab-snippets-'));
    dirs.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  const SOURCE = [
    'export function outer() {',
    '  // #region tutorial:inner',
    '  const a = 1;',
    '    // #region tutorial:nested',
    '    const b = 2;',
    '    // #endregion tutorial:nested',
    '  return a;',
    '  // #endregion tutorial:inner',
    '}',
    '',
  ].join('\n');
  const DOC = ['# Doc', '', '<!-- snippet: src/a.ts#inner -->', '```ts', '```', ''].join('\n');

  it('takes a region dedented, without nested markers', () => {
    const { regions, problems } = extractRegions(SOURCE, 'a.ts');
    expect(problems).toEqual([]);
    expect(regions.get('inner')?.lines).toEqual(['const a = 1;', '  const b = 2;', 'return a;']);
    expect(regions.get('nested')?.lines).toEqual(['const b = 2;']);
  });

  it('dedents a region indented with tabs, as Go is', () => {
    const go = [
      'func f() error {',
      '\t// #region tutorial:body',
      '\tif err := g(); err != nil {',
      '\t\treturn err',
      '\t}',
      '',
      '\treturn nil',
      '\t// #endregion tutorial:body',
      '}',
    ].join('\n');
    const { regions, problems } = extractRegions(go, 'f.go');
    expect(problems).toEqual([]);
    expect(regions.get('body')?.lines).toEqual([
      'if err := g(); err != nil {',
      '\treturn err',
      '}',
      '',
      'return nil',
    ]);
  });

  it('fills a block from its region, after which the check passes', () => {
    const root = fixture({ 'src/a.ts': SOURCE, 'docs/x.md': DOC });
    const first = syncSnippets(root);
    expect(first.problems.map((p) => p.message)).toEqual([
      'snippet src/a.ts#inner is out of date with its source',
    ]);
    expect(first.changed[0]?.text).toContain(
      '<!-- snippet: src/a.ts#inner -->\n```ts\nconst a = 1;\n  const b = 2;\nreturn a;\n```\n',
    );
    writeFileSync(join(root, 'docs/x.md'), first.changed[0]?.text ?? '');
    expect(syncSnippets(root)).toMatchObject({ snippets: 1, problems: [], changed: [] });
  });

  it('fails the check when a line of the source region changes', () => {
    const root = fixture({ 'src/a.ts': SOURCE, 'docs/x.md': DOC });
    writeFileSync(join(root, 'docs/x.md'), syncSnippets(root).changed[0]?.text ?? '');
    writeFileSync(join(root, 'src/a.ts'), SOURCE.replace('const a = 1;', 'const a = 10;'));
    const { problems } = syncSnippets(root);
    expect(problems).toEqual([
      expect.objectContaining({
        file: 'docs/x.md',
        line: 3,
        message: 'snippet src/a.ts#inner is out of date with its source',
      }),
    ]);
  });

  it('reports a missing region, an unterminated one, a missing file and a missing block', () => {
    const root = fixture({
      'src/a.ts': SOURCE,
      'src/open.ts': '// #region tutorial:open\nconst x = 1;\n',
      'README.md': [
        '<!-- snippet: src/a.ts#nope -->',
        '```ts',
        '```',
        '<!-- snippet: src/open.ts#open -->',
        '```ts',
        '```',
        '<!-- snippet: src/gone.ts#inner -->',
        '```ts',
        '```',
        '<!-- snippet: src/a.ts#inner -->',
        'text where a block should be',
        '<!-- snippet: ../outside.ts#inner -->',
        '',
      ].join('\n'),
    });
    const report = syncSnippets(root).problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
    expect(report).toEqual([
      expect.stringMatching(/^README\.md:1: src\/a\.ts has no region "nope"/),
      'README.md:4: src/open.ts:1: region "open" is not terminated (no "#endregion tutorial:open")',
      'README.md:7: snippet source src/gone.ts does not exist',
      'README.md:10: no code block after the marker for src/a.ts#inner',
      'README.md:12: snippet source ../outside.ts must be a path inside the repository',
    ]);
  });

  it('reports duplicate regions and an #endregion without its #region', () => {
    const source = [
      '// #region tutorial:twice',
      'a();',
      '// #endregion tutorial:twice',
      '// #region tutorial:twice',
      'b();',
      '// #endregion tutorial:twice',
      '# #endregion tutorial:stray',
    ].join('\n');
    const messages = extractRegions(source, 'x.ts').problems.map((p) => `${p.line}: ${p.message}`);
    expect(messages).toEqual([
      '4: region "twice" is opened twice',
      '6: "#endregion tutorial:twice" has no #region',
      '7: "#endregion tutorial:stray" has no #region',
    ]);
  });

  it('reports a block left open after a marker, and fences a region that contains ``` longer', () => {
    const fenced =
      '// #region tutorial:md\nconst md = `\n```sh\nls\n```\n`;\n// #endregion tutorial:md\n';
    const root = fixture({
      'src/md.ts': fenced,
      'docs/open.md': '<!-- snippet: src/md.ts#md -->\n```ts\nnever closed\n',
      'docs/long.md': '<!-- snippet: src/md.ts#md -->\n',
    });
    const result = syncSnippets(root);
    expect(result.problems.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([
      'docs/long.md:1: no code block after the marker for src/md.ts#md',
      'docs/open.md:2: the code block after this snippet marker is not closed',
    ]);
    const long = result.changed.find((c) => c.file === 'docs/long.md')?.text ?? '';
    expect(long).toBe(
      '<!-- snippet: src/md.ts#md -->\n````ts\nconst md = `\n```sh\nls\n```\n`;\n````\n',
    );
    writeFileSync(join(root, 'docs/long.md'), long);
    expect(syncSnippets(root, ['docs/long.md']).problems).toEqual([]);
  });

  it('leaves markers inside code blocks alone: they are examples, not snippets', () => {
    const doc = ['````md', '<!-- snippet: src/gone.ts#x -->', '```ts', '```', '````', ''].join(
      '\n',
    );
    const root = fixture({ 'docs/x.md': doc });
    expect(syncSnippets(root)).toMatchObject({ snippets: 0, problems: [], changed: [] });
  });

  it('runs as `docs:snippets --check` (exit 1 and a list) and rewrites without it', async () => {
    const root = fixture({ 'src/a.ts': SOURCE, 'docs/x.md': DOC });
    const cli = ['--import', 'tsx', join(ROOT, 'scripts/docs-snippets.ts'), '--root', root];
    const failed = await run(process.execPath, [...cli, '--check'], { cwd: ROOT }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toContain(
      'docs/x.md:3: snippet src/a.ts#inner is out of date with its source',
    );

    const { stdout } = await run(process.execPath, cli, { cwd: ROOT });
    expect(stdout).toContain('updated docs/x.md');
    expect(readFileSync(join(root, 'docs/x.md'), 'utf8')).toContain('const a = 1;');
    const checked = await run(process.execPath, [...cli, '--check'], { cwd: ROOT });
    expect(checked.stdout).toContain('1 snippet(s) in 1 markdown file(s) match their sources');
  });
});
