import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startRedisServer, type TestRedisServer } from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The library as a user gets it: `npm pack`ed, installed from the tarball into an empty ESM
// project outside this repository (no workspace, no tsx, no TypeScript), next to `redis` from the
// registry, and run with plain `node`. The global setup has built `dist/` already.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);
const manifest = JSON.parse(await readFile(join(ROOT, 'packages/cache/package.json'), 'utf8')) as {
  name: string;
  version: string;
  devDependencies: { redis: string; superjson: string };
};

/**
 * The environment for npm and node in the consumer project: ours without what ties a child to
 * this repository when the tests run under `npm test` (npm's own prefix and script variables) and
 * without NODE_OPTIONS, so that nothing but the installed files decides what runs.
 */
function consumerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^npm_(package|lifecycle)_/i.test(name) &&
        !['npm_config_local_prefix', 'INIT_CWD', 'NODE_OPTIONS'].includes(name),
    ),
  );
  return { ...env, ...extra };
}

describe('the packed @cachelab/cache, installed into a plain Node ESM project', () => {
  let project: string;
  let redis: TestRedisServer;
  let files: string[];

  beforeAll(async () => {
    project = await realpath(await mkdtemp(join(tmpdir(), 'cachelab-consumer-')));
    redis = await startRedisServer();
    const packed = await run(
      'npm',
      ['pack', '--workspace', manifest.name, '--pack-destination', project, '--json'],
      { cwd: ROOT, env: consumerEnv() },
    );
    const [tarball] = JSON.parse(packed.stdout) as {
      filename: string;
      files: { path: string }[];
    }[];
    if (!tarball) throw new Error(`npm pack printed no tarball:\n${packed.stdout}`);
    files = tarball.files.map((file) => file.path);
    await writeFile(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    for (const example of ['two-instances.js', 'operations.js']) {
      await copyFile(join(ROOT, 'packages/cache/examples', example), join(project, example));
    }
    const { redis: redisRange, superjson } = manifest.devDependencies;
    const install = [
      'install',
      `./${tarball.filename}`,
      `redis@${redisRange}`,
      `superjson@${superjson}`,
    ];
    await run('npm', [...install, '--no-audit', '--no-fund'], {
      cwd: project,
      env: consumerEnv(),
    });
  }, 300_000);

  afterAll(async () => {
    await redis?.stop();
    if (project) await rm(project, { recursive: true, force: true });
  });

  it('ships the compiled entry point, its declarations, the Lua scripts, the docs and the example, no tests', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'CHANGELOG.md',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/lua/read.lua',
        'dist/lua/fill.lua',
        'examples/two-instances.js',
        'examples/operations.js',
      ]),
    );
    expect(files.filter((file) => /^test\/|tsbuildinfo/.test(file))).toEqual([]);
  });

  it('runs the README example with plain node: A writes through, B reads the new version', async () => {
    const { stdout } = await run(process.execPath, ['two-instances.js'], {
      cwd: project,
      env: consumerEnv({ REDIS_URL: redis.url }),
      timeout: 30_000,
    });
    const reads = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(reads).toEqual([
      { tier: 'MISS', version: 1, value: { name: 'Ada' } },
      { tier: 'L2', version: 2, value: { name: 'Grace' } },
    ]);
  });

  it('runs the operations example with plain node: every operation, with superjson as the serializer', async () => {
    const { stdout } = await run(process.execPath, ['operations.js'], {
      cwd: project,
      env: consumerEnv({ REDIS_URL: redis.url }),
      timeout: 30_000,
    });
    const ada = { name: 'Ada', since: 'Date 2020-01-01T00:00:00.000Z', tags: 'Set admin' };
    const grace = { name: 'Grace', since: 'Date 2021-06-01T00:00:00.000Z', tags: 'Set ' };
    expect(
      stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { label: 'get before any load' },
      { label: 'getOrLoad', tier: 'MISS', version: 1, value: ada },
      { label: 'get', tier: 'L2', version: 1, value: ada },
      { label: 'getMany', tier: 'L1', version: 1, value: ada },
      { label: 'getMany', tier: 'MISS', version: 1, value: grace },
      { label: 'getMany', tier: 'MISS', version: 0, value: null },
      { label: 'after set', tier: 'L1', version: 2, value: { ...grace, name: 'Grace H.' } },
      { label: 'after delete', tier: 'L1', version: 2, value: null },
      { label: 'after clear' },
    ]);
  });

  it('resolves to the JavaScript in dist/, not to the TypeScript sources', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '-e', `console.log(import.meta.resolve('${manifest.name}'))`],
      { cwd: project, env: consumerEnv() },
    );
    expect(stdout.trim()).toBe(
      `file://${join(project, 'node_modules', manifest.name, 'dist/index.js')}`,
    );
  });
});
