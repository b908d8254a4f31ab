/**
 * The relative links of the docs, checked: every `[text](target)`, `![alt](target)`, reference
 * definition (`[name]: target`) and HTML `href`/`src` in a markdown file must name a file or
 * directory of the repository, and a `#anchor` must name a heading of the markdown file it points
 * into (or of the file itself), slugged as GitHub slugs headings (github-slugger, duplicates
 * numbered `-1`, `-2`, …). Web links (`https:`, `mailto:`, …) are not followed.
 *
 * What is not read as a link: anything inside a fenced code block or an inline code span.
 * Headings are ATX headings (`## Title`), the only kind the docs use.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import GithubSlugger from 'github-slugger';

/** One link that does not resolve. */
export interface BrokenLink {
  /** The markdown file, relative to the root. */
  file: string;
  /** 1-based line of the link. */
  line: number;
  /** The target as written. */
  target: string;
  /** Why it does not resolve. */
  reason: string;
}

const isDirectory = (path: string) => existsSync(path) && statSync(path).isDirectory();

/**
 * The markdown files whose links are checked: README.md, `packages/NAME/README.md`,
 * `languages/NAME/README.md`, and every `.md` under docs/.
 */
export function linkedMarkdownFiles(root: string): string[] {
  const files: string[] = [];
  if (existsSync(join(root, 'README.md'))) files.push('README.md');
  for (const top of ['packages', 'languages']) {
    if (!isDirectory(join(root, top))) continue;
    for (const name of readdirSync(join(root, top)).sort()) {
      const path = join(top, name, 'README.md');
      if (existsSync(join(root, path))) files.push(path);
    }
  }
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const path = join(dir, name);
      if (isDirectory(join(root, path))) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  if (isDirectory(join(root, 'docs'))) walk('docs');
  return files;
}

/** For each line of `text`: whether it belongs to a fenced code block (its fences included). */
function fencedLines(text: string): boolean[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    if (fence === undefined) {
      fence = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      return fence !== undefined;
    }
    // A closing fence: the same character, at least as long, nothing after it.
    if (new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(line)) fence = undefined;
    return true;
  });
}

/**
 * `text` with fenced code blocks and inline code spans blanked out (every character but newlines
 * replaced by a space), so that line numbers stay those of the original.
 */
export function withoutCode(text: string): string {
  const fenced = fencedLines(text);
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  return (
    text
      .split('\n')
      .map((line, i) => (fenced[i] ? blank(line) : line))
      .join('\n')
      // A code span: a run of backticks, then anything up to a run of the same length.
      .replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, blank)
  );
}

/** The plain text of a heading's markdown, as GitHub renders it before slugging. */
function headingText(markdown: string): string {
  return markdown
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/`/g, '') // code spans: their content
    .replace(/(\*\*|\*|~~)/g, ''); // emphasis markers
}

/** The anchors GitHub gives the headings of a markdown text. */
export function headingAnchors(text: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  const fenced = fencedLines(text);
  for (const [i, line] of text.split('\n').entries()) {
    const heading = /^ {0,3}#{1,6}(?:\s+(.*?))?(?:\s+#+)?\s*$/.exec(line);
    if (heading === null || fenced[i]) continue;
    anchors.add(slugger.slug(headingText(heading[1] ?? '')));
  }
  return anchors;
}

/** Every link target of a markdown text, with its 1-based line. */
export function linkTargets(text: string): { target: string; line: number }[] {
  const prose = withoutCode(text);
  const patterns = [
    // [text](target "title") and ![alt](target); the text may hold one level of brackets.
    /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g,
    // A reference definition: [name]: target
    /^ {0,3}\[[^\]]+\]:\s*(\S+)/gm,
    // HTML attributes
    /\b(?:href|src)\s*=\s*"([^"]*)"/g,
  ];
  const found: { target: string; line: number; at: number }[] = [];
  for (const pattern of patterns) {
    for (const match of prose.matchAll(pattern)) {
      const target = (match[1] as string).replace(/^<(.*)>$/, '$1');
      const at = match.index ?? 0;
      found.push({ target, at, line: prose.slice(0, at).split('\n').length });
    }
  }
  return found.sort((a, b) => a.at - b.at).map(({ target, line }) => ({ target, line }));
}

/** Every relative link of `files` (relative to `root`) that does not resolve. */
export function brokenLinks(root: string, files: string[]): BrokenLink[] {
  const anchorsOf = new Map<string, Set<string>>();
  const anchors = (path: string) => {
    let found = anchorsOf.get(path);
    if (found === undefined) {
      found = headingAnchors(readFileSync(join(root, path), 'utf8'));
      anchorsOf.set(path, found);
    }
    return found;
  };
  const broken: BrokenLink[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const { target, line } of linkTargets(text)) {
      // A scheme (https:, mailto:) or a protocol-relative URL: not a file of this repository.
      if (/^([a-z][a-z0-9+.-]*:|\/\/)/i.test(target)) continue;
      const report = (reason: string) => broken.push({ file, line, target, reason });
      const hash = target.indexOf('#');
      const pathPart = hash === -1 ? target : target.slice(0, hash);
      const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
      if (pathPart.startsWith('/')) {
        report('an absolute path: link relative to the file');
        continue;
      }
      // A bare #anchor points into the file itself.
      const path =
        pathPart === '' ? file : normalize(join(dirname(file), decodeURIComponent(pathPart)));
      if (path === '..' || path.startsWith(`..${sep}`)) {
        report('outside the repository');
        continue;
      }
      if (!existsSync(join(root, path))) {
        report('no such file or directory');
        continue;
      }
      if (anchor === undefined || !path.endsWith('.md')) continue;
      if (!anchors(path).has(anchor)) report(`no heading with the anchor #${anchor}`);
    }
  }
  return broken;
}
