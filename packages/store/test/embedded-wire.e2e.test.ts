import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { postgresBinaries } from '@cachelab/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeStatement, renameMessage, sessionName, takeFrame } from '../src/wire/frames.ts';
import { type FreshDatabase, freshEmbedded } from './fresh-database.ts';

const run = promisify(execFile);
const bin = postgresBinaries();
const pgbench = bin && join(bin, 'pgbench');

describe('the embedded database’s wire framing', () => {
  it('puts named statements and portals in the connection’s namespace, and leaves unnamed ones', () => {
    const parse = message('P', ['P_0', 'SELECT 1'], Buffer.from([0, 0]));
    const names: string[] = [];
    const renamed = renameMessage(parse, 'c7_', (name) => names.push(name));
    expect(fields(renamed)).toEqual(['c7_P_0', 'SELECT 1']);
    expect(names).toEqual(['c7_P_0']);
    const bind = renameMessage(message('B', ['', 'P_0'], Buffer.alloc(6)), 'c7_', () => {});
    expect(fields(bind)).toEqual(['', 'c7_P_0']);
    expect(bind.subarray(-6)).toEqual(Buffer.alloc(6));
  });

  it('hashes a name that the prefix would push past 63 bytes, keeping it distinct', () => {
    const long = 'x'.repeat(60);
    const renamed = sessionName('c12_', long);
    expect(Buffer.byteLength(renamed)).toBeLessThanOrEqual(63);
    expect(renamed).not.toBe(sessionName('c12_', `${long}y`));
  });

  it('waits for a whole frame, and refuses a length no frame has', () => {
    const close = closeStatement('c1_P_0');
    expect(takeFrame(close.subarray(0, 4), true)).toBeUndefined();
    expect(takeFrame(Buffer.concat([close, close]), true)?.rest).toEqual(close);
    expect(() => takeFrame(Buffer.from([0x51, 0, 0, 0, 1]), true)).toThrow(/bad length/);
  });
});

// pgbench is a libpq client: -M extended sends unnamed Parse/Bind/Execute/Sync, -M prepared names
// its statements P_0, P_1, … on every connection alike.
describe.runIf(pgbench && existsSync(pgbench))('the embedded database with libpq clients', () => {
  let database: FreshDatabase;
  let scripts: string;

  beforeAll(async () => {
    database = await freshEmbedded();
    scripts = await mkdtemp(join(tmpdir(), 'cachelab-pgbench-'));
    await writeFile(join(scripts, 'narrow.sql'), 'SELECT :client_id::int AS a;\n');
    await writeFile(join(scripts, 'wide.sql'), "SELECT 'x'::text AS b, 2 AS c, repeat('z', 40);\n");
    await writeFile(
      join(scripts, 'transfer.sql'),
      'BEGIN;\nINSERT INTO ledger VALUES (:client_id);\nSELECT count(*) FROM ledger;\nCOMMIT;\n',
    );
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('CREATE TABLE ledger (client int NOT NULL)');
    await client.end();
  });

  afterAll(async () => {
    await database?.cleanup();
    if (scripts) await rm(scripts, { recursive: true, force: true });
  });

  async function bench(mode: string, script: string, clients: number, transactions: number) {
    const url = new URL(database.url);
    const args = ['-h', url.hostname, '-p', url.port, '-U', 'postgres', '-n', '-M', mode];
    args.push('-c', String(clients), '-j', '1', '-t', String(transactions));
    args.push('-f', join(scripts, script), 'postgres');
    const { stdout } = await run(pgbench as string, args, { timeout: 60_000 });
    return Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
  }

  it.each(['extended', 'prepared'])(
    'serves concurrent connections running different statements (-M %s), every one answered',
    async (mode) => {
      // Twice: statements named alike by the first run's connections are gone with them.
      for (let round = 0; round < 2; round++) {
        const done = await Promise.all([
          bench(mode, 'narrow.sql', 2, 200),
          bench(mode, 'wide.sql', 2, 200),
        ]);
        expect(done).toEqual([400, 400]);
      }
    },
  );

  it('keeps each connection’s transaction its own', async () => {
    expect(await bench('extended', 'transfer.sql', 4, 50)).toBe(200);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const { rows } = await client.query('SELECT count(*)::int AS n FROM ledger');
    await client.end();
    expect(rows[0].n).toBe(200);
  });

  it('rolls back the transaction of a connection that closes inside it, and serves the others', async () => {
    const quitter = new pg.Client({ connectionString: database.url });
    await quitter.connect();
    quitter.on('error', () => {});
    await quitter.query('BEGIN');
    await quitter.query('INSERT INTO ledger VALUES (-1)');
    (
      quitter as unknown as { connection: { stream: { destroy(): void } } }
    ).connection.stream.destroy();
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    const { rows } = await other.query('SELECT count(*)::int AS n FROM ledger WHERE client = -1');
    await other.end();
    expect(rows[0].n).toBe(0);
  });
});

function message(type: string, strings: string[], rest: Buffer): Buffer {
  const body = Buffer.concat([...strings.map((s) => Buffer.from(`${s}\0`)), rest]);
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** The first NUL-terminated strings of a Parse or Bind (two of them). */
function fields(bytes: Buffer): string[] {
  const first = bytes.indexOf(0, 5);
  const second = bytes.indexOf(0, first + 1);
  return [bytes.toString('utf8', 5, first), bytes.toString('utf8', first + 1, second)];
}
