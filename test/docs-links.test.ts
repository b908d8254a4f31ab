import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  brokenLinks,
  headingAnchors,
  linkedMarkdownFiles,
  linkTargets,
} from '../scripts/docs/links.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('the links of the docs in this repository', () => {
  const files = linkedMarkdownFiles(ROOT);

  it('cover the README, every package README and every page under docs/', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('packages/cache/README.md');
    expect(files).toContain('docs/lab.md');
    expect(files).toContain('docs/tutorial/README.md');
    expect(files.filter((f) => f.startsWith('docs/tutorial/node/'))).not.toEqual([]);
  });

  it('resolve: every relative link names a file, every #anchor a heading', () => {
    const report = brokenLinks(ROOT, files).map(
      (b) => `${b.file}:${b.line}: ${b.target}: ${b.reason}`,
    );
    expect(report).toEqual([]);
  });
});

describe('the link checker', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A throw-away repository with the given files; returns its root. */
  function fixture(files: Record<string, string>): string {
    const root = mkdtempSync(join(tmpdir(), 'cachelab-links-'));
    dirs.push(root);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    return root;
  }

  it('slugs headings as GitHub does, numbering duplicates', () => {
    const text = [
      '# cachelab',
      '## The HTTP API of an instance',
      '### What CI runs: `npm run test:compose`',
      '## Redis auth, TLS and signed invalidations',
      '## Try it',
      '## Try it',
      '## 4. Invalidation and updates',
      '## When memory runs out: `maxmemory`',
      '```sh',
      '# not a heading',
      '```',
    ].join('\n');
    expect([...headingAnchors(text)]).toEqual([
      'cachelab',
      'the-http-api-of-an-instance',
      'what-ci-runs-npm-run-testcompose',
      'redis-auth-tls-and-signed-invalidations',
      'try-it',
      'try-it-1',
      '4-invalidation-and-updates',
      'when-memory-runs-out-maxmemory',
    ]);
  });

  it('reads links, images and references, but not code', () => {
    const text = [
      'See [a](a.md), ![chart](img/c.svg "title") and [b][ref].',
      '`[not](code.md)` and',
      '```md',
      '[not](fenced.md)',
      '```',
      '[ref]: b.md#part',
      '<img src="img/d.svg">',
    ].join('\n');
    expect(linkTargets(text)).toEqual([
      { target: 'a.md', line: 1 },
      { target: 'img/c.svg', line: 1 },
      { target: 'b.md#part', line: 6 },
      { target: 'img/d.svg', line: 7 },
    ]);
  });

  it('reports a missing file, a missing anchor, a link out of the repository; passes the rest', () => {
    const root = fixture({
      'README.md': [
        '# Top',
        '[ok](docs/page.md#a-section) [ok](#top) [ok](docs/) [web](https://example.com/x.md)',
        '[gone](docs/gone.md)',
        '[bad anchor](docs/page.md#no-such-section)',
        '[bad own anchor](#nope)',
        '[out](../elsewhere.md)',
      ].join('\n'),
      'docs/page.md':
        '# Page\n\n## A section\n\n[back](../README.md#top) [source](../src/a.ts#L1)\n',
      'src/a.ts': '',
    });
    const report = brokenLinks(root, linkedMarkdownFiles(root)).map(
      (b) => `${b.file}:${b.line}: ${b.target}: ${b.reason}`,
    );
    expect(report).toEqual([
      'README.md:3: docs/gone.md: no such file or directory',
      'README.md:4: docs/page.md#no-such-section: no heading with the anchor #no-such-section',
      'README.md:5: #nope: no heading with the anchor #nope',
      'README.md:6: ../elsewhere.md: outside the repository',
    ]);
  });
});
