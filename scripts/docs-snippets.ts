/**
 * `npm run docs:snippets`: rewrites every snippet block in README.md, each package's and each
 * language's README.md and docs/ from the source region its marker names (see
 * scripts/docs/snippets.ts). With `--check` it changes nothing and exits 1 listing every snippet
 * that is out of date or names a missing file or region.
 *
 *   npm run docs:snippets [-- --check] [--root DIR] [file.md …]
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { markdownFiles, syncSnippets } from './docs/snippets.ts';

const USAGE = 'usage: npm run docs:snippets [-- --check] [--root DIR] [file.md …]';

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      check: { type: 'boolean', default: false },
      root: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}
try {
  args = parse();
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (args.values.help) {
  console.log(USAGE);
  process.exit(0);
}

const root = resolve(args.values.root ?? fileURLToPath(new URL('..', import.meta.url)));
const files = args.positionals.length > 0 ? args.positionals : markdownFiles(root);
const result = syncSnippets(root, files);
const check = args.values.check;

if (!check) {
  for (const { file, text } of result.changed) {
    writeFileSync(join(root, file), text);
    console.log(`updated ${file}`);
  }
}
// When rewriting, blocks that were merely out of date are fixed; the rest still needs a person.
const problems = check ? result.problems : result.problems.filter((p) => !p.fixable);
for (const p of problems) console.error(`${p.file}:${p.line}: ${p.message}`);

const summary = `${result.snippets} snippet(s) in ${result.files} markdown file(s)`;
if (problems.length > 0) {
  const fix = check ? '; run `npm run docs:snippets` to rewrite them' : '';
  console.error(`docs snippets: ${problems.length} problem(s) in ${summary}${fix}`);
  process.exit(1);
}
console.log(`docs snippets: ${summary} ${check ? 'match their sources' : 'written'}`);
