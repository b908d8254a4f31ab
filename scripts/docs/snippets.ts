import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, normalize, relative, sep } from 'node:path';

/**
 * Code snippets in the docs are copies of regions of real source files, so they cannot drift:
 *
 * - in a source file, a region is marked by comment lines `// #region tutorial:NAME` and
 *   `// #endregion tutorial:NAME` (`#` or `--` comments work too, e.g. in redis.conf);
 * - in markdown, the line `<!-- snippet: path/from/repo/root.ts#NAME -->` is followed by a fenced
 *   code block that holds that region, dedented, without any nested marker lines.
 *
 * {@link syncSnippets} rewrites those blocks from the sources, or only reports what differs.
 */

/** Something wrong with a snippet or a region, at a line of a file (paths relative to the root). */
export interface SnippetProblem {
  file: string;
  /** 1-based. */
  line: number;
  message: string;
  /** True when rewriting the markdown from the sources fixes it (an out-of-date block). */
  fixable?: boolean;
}

/** A region of a source file: its dedented lines, ready to be shown. */
export interface Region {
  name: string;
  /** 1-based line of its `#region` marker. */
  line: number;
  lines: string[];
}

/** A problem with the markers of one region of a source file. */
export interface RegionProblem extends SnippetProblem {
  region: string;
}

/** The regions of one source file, and what is wrong with its markers. */
export interface SourceRegions {
  regions: Map<string, Region>;
  problems: RegionProblem[];
}

const REGION_MARKER = /^\s*(?:\/\/|#|--)\s*#(region|endregion)\s+tutorial:([A-Za-z0-9_.-]+)\s*$/;
const SNIPPET_MARKER = /^<!--\s*snippet:\s*(.*?)\s*-->\s*$/;
const SNIPPET_TARGET = /^([^#\s]+)#([A-Za-z0-9_.-]+)$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const LANGUAGES: Record<string, string> = {
  '.ts': 'ts',
  '.js': 'js',
  '.json': 'json',
  '.sql': 'sql',
  '.lua': 'lua',
  '.conf': 'conf',
  '.yml': 'yaml',
  '.yaml': 'yaml',
  '.sh': 'sh',
  '.py': 'python',
  '.go': 'go',
};

/** Finds every `tutorial:` region of a source file; `file` only labels the problems. */
export function extractRegions(source: string, file: string): SourceRegions {
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  const regions = new Map<string, Region>();
  const problems: RegionProblem[] = [];
  const open = new Map<string, number>();
  lines.forEach((text, index) => {
    const marker = REGION_MARKER.exec(text);
    if (!marker) return;
    const [, kind, name = ''] = marker;
    const line = index + 1;
    if (kind === 'region') {
      if (open.has(name) || regions.has(name)) {
        problems.push({ file, line, region: name, message: `region "${name}" is opened twice` });
      } else {
        open.set(name, index);
      }
      return;
    }
    const start = open.get(name);
    if (start === undefined) {
      const message = `"#endregion tutorial:${name}" has no #region`;
      problems.push({ file, line, region: name, message });
      return;
    }
    open.delete(name);
    const body = lines.slice(start + 1, index).filter((l) => !REGION_MARKER.test(l));
    if (body.every((l) => l.trim() === '')) {
      problems.push({ file, line: start + 1, region: name, message: `region "${name}" is empty` });
    }
    regions.set(name, { name, line: start + 1, lines: dedent(body) });
  });
  for (const [name, start] of open) {
    problems.push({
      file,
      line: start + 1,
      region: name,
      message: `region "${name}" is not terminated (no "#endregion tutorial:${name}")`,
    });
  }
  return { regions, problems };
}

/**
 * Removes the indentation common to every non-blank line (spaces, or tabs as in Go), and trailing
 * whitespace.
 */
export function dedent(lines: string[]): string[] {
  const trimmed = lines.map((l) => l.trimEnd());
  while (trimmed.length > 0 && trimmed[0] === '') trimmed.shift();
  while (trimmed.length > 0 && trimmed[trimmed.length - 1] === '') trimmed.pop();
  const leading = trimmed.filter((l) => l !== '').map((l) => /^[ \t]*/.exec(l)?.[0] ?? '');
  let common = leading[0] ?? '';
  for (const indent of leading) while (!indent.startsWith(common)) common = common.slice(0, -1);
  return trimmed.map((l) => l.slice(common.length));
}

/** The fenced block that shows `region` of `path`, fence lines included. */
export function renderBlock(path: string, region: Region): string[] {
  const longest = Math.max(0, ...region.lines.map((l) => /`+/.exec(l)?.[0].length ?? 0));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${LANGUAGES[extname(path)] ?? ''}`, ...region.lines, fence];
}

/** Reads a source file by its path from the root; `undefined` when there is none. */
export type SourceReader = (path: string) => string | undefined;

/** The result of checking or rewriting one markdown file. */
export interface MarkdownResult {
  /** The markdown with every snippet block rewritten from its source (where possible). */
  text: string;
  /** Snippet markers found outside code blocks. */
  snippets: number;
  /** Blocks that differ from their source, and markers that cannot be served. */
  problems: SnippetProblem[];
}

/**
 * Checks every snippet of one markdown file against its source, and renders the file as it
 * should be. Markers inside fenced code blocks are text, not snippets.
 */
export function processMarkdown(
  markdown: string,
  docFile: string,
  readSource: SourceReader,
): MarkdownResult {
  const lines = markdown.replace(/\r\n/g, '\n').split('\n');
  const out: string[] = [];
  const problems: SnippetProblem[] = [];
  const sources = new Map<string, SourceRegions | undefined>();
  let snippets = 0;
  let index = 0;
  const problem = (line: number, message: string, fixable = false) =>
    problems.push({ file: docFile, line, message, fixable });

  while (index < lines.length) {
    const text = lines[index] ?? '';
    const fence = FENCE.exec(text);
    if (fence) {
      const end = closingFence(lines, index, fence[1] ?? '```');
      out.push(...lines.slice(index, end + 1));
      index = end + 1;
      continue;
    }
    out.push(text);
    index++;
    const marker = SNIPPET_MARKER.exec(text);
    if (!marker) continue;
    snippets++;
    const markerLine = index;
    const target = resolveTarget(marker[1] ?? '', sources, readSource);
    // The block that follows the marker, if any: its first and last line indexes.
    const open = FENCE.exec(lines[index] ?? '');
    const block = open
      ? { first: index, last: closingFence(lines, index, open[1] ?? '```') }
      : undefined;
    if (block && block.last >= lines.length) {
      problem(markerLine + 1, 'the code block after this snippet marker is not closed');
      out.push(...lines.slice(index));
      break;
    }
    const current = block ? lines.slice(block.first, block.last + 1) : [];
    if ('error' in target) {
      problem(markerLine, target.error);
      out.push(...current);
    } else {
      const wanted = renderBlock(target.path, target.region);
      if (!block) problem(markerLine, `no code block after the marker for ${marker[1]}`, true);
      else if (current.join('\n') !== wanted.join('\n')) {
        problem(markerLine, `snippet ${marker[1]} is out of date with its source`, true);
      }
      out.push(...wanted);
    }
    if (block) index = block.last + 1;
  }
  return { text: out.join('\n'), snippets, problems };
}

/** Index of the line closing the fence opened at `start`, or `lines.length` when unclosed. */
function closingFence(lines: string[], start: number, opener: string): number {
  const char = opener[0] === '~' ? '~' : '`';
  for (let i = start + 1; i < lines.length; i++) {
    const match = FENCE.exec(lines[i] ?? '');
    const run = match?.[1] ?? '';
    if (run[0] === char && run.length >= opener.length && (match?.[2] ?? '').trim() === '') {
      return i;
    }
  }
  return lines.length;
}

type Target = { path: string; region: Region } | { error: string };

function resolveTarget(
  spec: string,
  sources: Map<string, SourceRegions | undefined>,
  readSource: SourceReader,
): Target {
  const parsed = SNIPPET_TARGET.exec(spec);
  if (!parsed) return { error: `snippet marker "${spec}" must read path/to/file#region` };
  const [, path = '', name = ''] = parsed;
  if (isAbsolute(path) || normalize(path).split(sep).includes('..')) {
    return { error: `snippet source ${path} must be a path inside the repository` };
  }
  if (!sources.has(path)) {
    const text = readSource(path);
    sources.set(path, text === undefined ? undefined : extractRegions(text, path));
  }
  const found = sources.get(path);
  if (!found) return { error: `snippet source ${path} does not exist` };
  const broken = found.problems.find((p) => p.region === name);
  if (broken) return { error: `${path}:${broken.line}: ${broken.message}` };
  const region = found.regions.get(name);
  if (!region) {
    return {
      error: `${path} has no region "${name}" (mark it with "// #region tutorial:${name}" … "// #endregion tutorial:${name}")`,
    };
  }
  return { path, region };
}

/**
 * Every markdown file the snippet check covers: README.md, each package's and each language's
 * README.md (`packages/NAME/README.md`, `languages/NAME/README.md`) and everything under docs/.
 */
export function markdownFiles(root: string): string[] {
  const files: string[] = [];
  const readme = join(root, 'README.md');
  if (isFile(readme)) files.push('README.md');
  for (const parent of ['packages', 'languages']) {
    const names = isDirectory(join(root, parent)) ? readdirSync(join(root, parent)) : [];
    for (const name of names.sort()) {
      const path = join(parent, name, 'README.md');
      if (isFile(join(root, path))) files.push(path);
    }
  }
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(join(root, dir)).sort();
    } catch {
      return;
    }
    for (const name of names) {
      if (name === 'node_modules' || name.startsWith('.')) continue;
      const path = join(dir, name);
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  return files;
}

/** The outcome of {@link syncSnippets}. */
export interface SyncResult {
  files: number;
  snippets: number;
  /** Markdown files whose rewritten text differs from what is on disk. */
  changed: { file: string; text: string }[];
  problems: SnippetProblem[];
}

/**
 * Checks the snippets of `files` (paths relative to `root`) against their sources. The caller
 * writes `changed` back to rewrite them; `problems` lists every block out of date and every marker
 * that names a missing file or region (those cannot be fixed by rewriting).
 */
export function syncSnippets(root: string, files: string[] = markdownFiles(root)): SyncResult {
  const readSource: SourceReader = (path) => {
    const full = join(root, path);
    return isFile(full) ? readFileSync(full, 'utf8') : undefined;
  };
  const result: SyncResult = { files: files.length, snippets: 0, changed: [], problems: [] };
  for (const file of files) {
    const original = readFileSync(join(root, file), 'utf8');
    const processed = processMarkdown(original, relative(root, join(root, file)), readSource);
    result.snippets += processed.snippets;
    result.problems.push(...processed.problems);
    if (processed.text !== original.replace(/\r\n/g, '\n')) {
      result.changed.push({ file, text: processed.text });
    }
  }
  return result;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
