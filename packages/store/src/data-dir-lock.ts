import { randomUUID } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Name of the lock file inside a data directory; it holds the owner's process id. */
export const LOCK_FILE = 'cachelab-db.lock';

/** A held lock on a data directory. */
export interface DataDirLock {
  /** The lock file. */
  path: string;
  /** Removes the lock file if it still holds this process's id. Idempotent. */
  release(): void;
}

/** Thrown by {@link lockDataDir} when another live process holds the directory. */
export class DataDirLockedError extends Error {
  readonly code = 'E_DATA_DIR_LOCKED';
  /** The data directory. */
  readonly dataDir: string;
  /** Process id of the holder. */
  readonly pid: number;
  /** The lock file that names the holder. */
  readonly lockPath: string;

  constructor(dataDir: string, pid: number, lockPath = join(dataDir, LOCK_FILE)) {
    super(
      `${dataDir} is in use by process ${pid} (another embedded database; lock file ${lockPath})`,
    );
    this.name = 'DataDirLockedError';
    this.dataDir = dataDir;
    this.pid = pid;
    this.lockPath = lockPath;
  }
}

/**
 * Takes the lock of `dataDir` (an existing directory) for this process: the lock file, holding
 * `process.pid`, appears at once complete (written to a temporary file, then hard-linked into
 * place, which fails if the lock exists). A lock whose process is gone (killed, crashed) is stale
 * and taken over. Synchronous, so that a caller can release it from an `exit` handler.
 * @throws DataDirLockedError when a live process holds it.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const temp = `${path}.${process.pid}.${randomUUID()}.tmp`;
  writeFileSync(temp, `${process.pid}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        // link() fails if the lock exists: two processes racing here cannot both win, and no
        // racer ever sees the lock without its pid.
        linkSync(temp, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
        const holder = lockHolder(dataDir);
        if (holder !== undefined) throw new DataDirLockedError(dataDir, holder, path);
        removeStale(dataDir, path);
      }
    }
  } finally {
    rmSync(temp, { force: true });
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      if (readPid(path) === process.pid) rmSync(path, { force: true });
    },
  };
}

/**
 * Removes a lock found stale without deleting one a racer has meanwhile put in its place: the
 * file is first renamed aside (atomic; only one racer gets it), then checked again. If it turns
 * out live after all, it is put back and the holder reported.
 */
function removeStale(dataDir: string, path: string): void {
  const aside = `${path}.${process.pid}.${randomUUID()}.stale`;
  try {
    renameSync(path, aside);
  } catch (error) {
    // Gone already: another racer moved or released it; try to take it again.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const pid = readPid(aside);
  try {
    if (pid !== undefined && pid !== process.pid && isAlive(pid)) {
      try {
        linkSync(aside, path);
      } catch {
        // Someone took the free lock meanwhile; it is theirs now.
      }
      throw new DataDirLockedError(dataDir, pid, path);
    }
  } finally {
    rmSync(aside, { force: true });
  }
}

/**
 * The process id holding the lock of `dataDir`, or `undefined` when the directory is not locked
 * (no lock file, or one left by a process that is gone).
 */
export function lockHolder(dataDir: string): number | undefined {
  const pid = readPid(join(dataDir, LOCK_FILE));
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether process `pid` exists and is not a zombie (a killed process its parent has not reaped). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Linux: the state is the field after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}
