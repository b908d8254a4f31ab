import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildProjects } from './setup/build.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A one-file TypeScript project in a directory of its own. */
async function project(source: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cachelab-build-'));
  dirs.push(dir);
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { strict: true, outDir: 'dist' }, files: ['a.ts'] }),
  );
  await writeFile(join(dir, 'a.ts'), source);
  return dir;
}

describe("the tests' global setup build", () => {
  it('fails the run when the build fails, with what tsc printed', async () => {
    const dir = await project('export const n: number = "not a number";\n');
    await expect(buildProjects(dir, ['.'])).rejects.toThrow(
      /npm run build failed:[\s\S]*a\.ts.*TS2322/,
    );
  });

  it('builds a project that type-checks', async () => {
    const dir = await project('export const n: number = 1;\n');
    await expect(buildProjects(dir, ['.'])).resolves.toBeUndefined();
  });
});
