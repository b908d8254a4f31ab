import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import {
  closeStatement,
  type Frame,
  ProtocolError,
  renameMessage,
  SYNC,
  takeFrame,
} from './frames.ts';

/**
 * Serves one PGlite over the Postgres wire protocol to many client connections.
 *
 * PGlite is a single backend session, so every connection shares its state. Three rules keep each
 * connection's view its own, whatever client library it uses (node-pg, libpq, pgx, psycopg):
 *
 * 1. **A unit at a time.** A connection holds the session from its first message after a
 *    ReadyForQuery until the next one (its Sync, or its simple Query) completes: the unnamed
 *    statement and portal it Parses and Binds cannot be replaced by another connection's meanwhile,
 *    and a client that Flushes and waits in the middle of a unit is answered.
 * 2. **Transactions stay with their connection.** While the session is in a transaction a
 *    connection began, only that connection runs; an abandoned one is rolled back when it closes.
 * 3. **Named statements and portals are renamed** with a prefix of their connection (frames.ts),
 *    and closed when it ends, so two clients that both prepare `P_0` or `stmtcache_1` do not
 *    collide.
 *
 * What stays shared: session settings (`SET` without `LOCAL`), temporary tables, `LISTEN`.
 * `@electric-sql/pglite-socket` queues single messages instead of units, which interleaves
 * libpq clients' extended queries; hence this server.
 */
export interface WireServer {
  /** The port it listens on. */
  port: number;
  /** Client connections open now. */
  connections(): number;
  /** Closes every connection and stops listening. */
  stop(): Promise<void>;
}

/** Options of {@link startWireServer}. */
export interface WireServerOptions {
  db: PGlite;
  host: string;
  port: number;
  /** Connections served at once; a connection beyond it is closed at once. */
  maxConnections: number;
}

/** Starts serving `db`. @throws the listen error (e.g. `EADDRINUSE`). */
export async function startWireServer(options: WireServerOptions): Promise<WireServer> {
  const { db } = options;
  const sessions = new Set<Session>();
  const lock = createLock();
  let nextId = 1;
  const server: Server = createServer((socket) => {
    if (sessions.size >= options.maxConnections) {
      socket.destroy();
      return;
    }
    const session = new Session(socket, db, lock, `c${nextId++}_`);
    sessions.add(session);
    socket.once('close', () => sessions.delete(session));
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return {
    port: options.port,
    connections: () => sessions.size,
    async stop() {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const session of sessions) session.destroy();
      await closed;
      await Promise.all([...sessions].map((session) => session.ended));
    },
  };
}

/** A mutex over PGlite's one session, held by one connection at a time. */
interface Lock {
  acquire(): Promise<() => void>;
}

function createLock(): Lock {
  let tail = Promise.resolve();
  return {
    acquire() {
      let release!: () => void;
      const next = new Promise<void>((resolve) => (release = resolve));
      const acquired = tail.then(() => release);
      tail = tail.then(() => next);
      return acquired;
    },
  };
}

/** One client connection: its frames, run in order, a unit at a time. */
class Session {
  readonly #socket: Socket;
  readonly #db: PGlite;
  readonly #lock: Lock;
  readonly #prefix: string;
  readonly #statements = new Set<string>();
  #buffer: Buffer = Buffer.alloc(0);
  #started = false;
  #release: (() => void) | undefined;
  #work: Promise<void> = Promise.resolve();
  #closed = false;
  /** Settles once the connection is closed and the session is left clean. */
  readonly ended: Promise<void>;

  constructor(socket: Socket, db: PGlite, lock: Lock, prefix: string) {
    this.#socket = socket;
    this.#db = db;
    this.#lock = lock;
    this.#prefix = prefix;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#receive(chunk));
    socket.on('error', () => socket.destroy());
    this.ended = once(socket, 'close').then(() => {
      this.#closed = true;
      return this.#enqueue(() => this.#cleanUp());
    });
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    try {
      for (;;) {
        const taken = takeFrame(this.#buffer, this.#started);
        if (!taken) return;
        this.#buffer = taken.rest;
        if (taken.frame.kind === 'startup') this.#started = true;
        const frame = taken.frame;
        this.#enqueue(() => this.#handle(frame));
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#socket.destroy();
    }
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#work = this.#work.then(task).catch(() => {
      this.#socket.destroy();
    });
    return this.#work;
  }

  async #handle(frame: Frame): Promise<void> {
    if (this.#closed) return;
    switch (frame.kind) {
      case 'ssl-request':
      case 'gssenc-request':
        this.#socket.write('N'); // No encryption: loopback only.
        return;
      case 'cancel-request':
        this.#socket.destroy(); // Not supported; a cancel connection carries nothing else.
        return;
      case 'startup':
        return this.#run(frame.bytes, true);
      case 'message':
        if (frame.type === 'X') {
          this.#socket.end(); // Terminate: the shared session itself must not end.
          return;
        }
        return this.#run(
          renameMessage(frame.bytes, this.#prefix, (name) => this.#statements.add(name)),
          frame.type === 'S' || frame.type === 'Q',
        );
    }
  }

  /** Runs one message holding the session; `endsUnit` for Sync, Query and the startup message. */
  async #run(message: Buffer, endsUnit: boolean): Promise<void> {
    this.#release ??= await this.#lock.acquire();
    await this.#db.runExclusive(() =>
      this.#db.execProtocolRawStream(message, {
        onRawData: (data) => {
          if (!this.#closed) this.#socket.write(data);
        },
      }),
    );
    if (endsUnit && !this.#db.isInTransaction()) this.#unlock();
  }

  /** After the connection closed: ends its unit and transaction, closes its statements. */
  async #cleanUp(): Promise<void> {
    const cleanUp = [...this.#statements].map(closeStatement);
    if (cleanUp.length === 0 && !this.#release) return;
    this.#release ??= await this.#lock.acquire();
    try {
      // A Sync first ends a unit the client left half-sent (and clears an error state).
      for (const message of [SYNC, ...cleanUp, SYNC]) await this.#quietly(message);
      if (this.#db.isInTransaction()) await this.#db.exec('ROLLBACK');
    } finally {
      this.#unlock();
    }
  }

  #quietly(message: Buffer): Promise<void> {
    return this.#db.runExclusive(() => this.#db.execProtocolRawStream(message, { onRawData() {} }));
  }

  #unlock(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}
