import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, LOCK_FILE, lockDataDir, lockHolder } from '../src/data-dir-lock.ts';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cachelab-lock-'));
  dirs.push(dir);
  return dir;
}

/** The id of a process that has exited (and been reaped). */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  return pid as number;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('lockDataDir', () => {
  it('writes the holder pid, and releases only its own lock', () => {
    const dir = freshDir();
    const lock = lockDataDir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
    expect(lockHolder(dir)).toBe(process.pid);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(lockHolder(dir)).toBeUndefined();
  });

  it('refuses a directory a live process holds, naming the directory, the pid and the lock file', () => {
    const dir = freshDir();
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid}\n`); // alive: the test runner's parent
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    try {
      lockDataDir(dir);
    } catch (error) {
      expect(error).toMatchObject({ dataDir: dir, pid: process.ppid, code: 'E_DATA_DIR_LOCKED' });
      expect((error as Error).message).toContain(join(dir, LOCK_FILE));
    }
  });

  it('takes over a stale lock whose process is gone, and one left empty by a crash', () => {
    const dir = freshDir();
    writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
    expect(lockHolder(dir)).toBeUndefined();
    lockDataDir(dir).release();
    writeFileSync(join(dir, LOCK_FILE), '');
    const lock = lockDataDir(dir);
    expect(lockHolder(dir)).toBe(process.pid);
    lock.release();
  });

  it('lets exactly one of many processes racing for a stale lock win, leaving no temporary file', {
    timeout: 20_000,
  }, async () => {
    const dir = freshDir();
    writeFileSync(join(dir, LOCK_FILE), `${deadPid()}\n`);
    const startAt = Date.now() + 3000;
    const results = await Promise.all(Array.from({ length: 6 }, () => racer(dir, startAt)));
    expect(results.filter((result) => result === 'won')).toHaveLength(1);
    expect(results.filter((result) => result === 'refused')).toHaveLength(5);
    expect(readdirSync(dir)).toEqual([]);
  });
});

const LOCK_MODULE = fileURLToPath(new URL('../src/data-dir-lock.ts', import.meta.url));

/**
 * A process that loads the lock module, waits (spinning) until `startAt` (ms since the epoch, the
 * same for every racer), tries to take the lock of `dir`, holds it for 4 s if it won (so that a
 * racer starting late still finds it live), and reports `won` or `refused`.
 */
function racer(dir: string, startAt: number): Promise<string> {
  const script = `
    import(${JSON.stringify(LOCK_MODULE)}).then(({ lockDataDir }) => {
      while (Date.now() < ${startAt}) {}
      try {
        const lock = lockDataDir(${JSON.stringify(dir)});
        process.stdout.write('won');
        setTimeout(() => lock.release(), 4000);
      } catch (error) {
        process.stdout.write(error.code === 'E_DATA_DIR_LOCKED' ? 'refused' : String(error));
      }
    });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script]);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('exit', () => resolve(output.trim()));
  });
}
