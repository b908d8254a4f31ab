import { createHash } from 'node:crypto';

/**
 * Framing of the Postgres wire protocol (v3) as a client sends it, and the one rewrite the
 * embedded server makes: every named prepared statement and portal gets a prefix of its
 * connection, because all connections share PGlite's one backend session.
 */

/** The request codes a client may send instead of a startup message. */
const SSL_REQUEST = 80_877_103;
const GSSENC_REQUEST = 80_877_104;
const CANCEL_REQUEST = 80_877_102;
const PROTOCOL_3 = 196_608;
/** Longest message accepted (PostgreSQL's own limit for most messages is 1 GiB). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** PostgreSQL truncates identifiers, statement and portal names included, to 63 bytes. */
const MAX_NAME_BYTES = 63;

/** One frame a client sent: before the startup message, one of the requests; then messages. */
export type Frame =
  | { kind: 'startup'; bytes: Buffer }
  | { kind: 'ssl-request' | 'gssenc-request' | 'cancel-request' }
  | { kind: 'message'; type: string; bytes: Buffer };

/** Thrown for bytes that are not the Postgres wire protocol; the connection is closed. */
export class ProtocolError extends Error {}

/**
 * Takes the first complete frame off `buffer`: `undefined` while it is incomplete. Before the
 * startup message (`started` false) frames have no type byte.
 * @throws {ProtocolError} on a length that no valid frame has.
 */
export function takeFrame(
  buffer: Buffer,
  started: boolean,
): { frame: Frame; rest: Buffer } | undefined {
  const headerBytes = started ? 5 : 4;
  if (buffer.length < headerBytes) return undefined;
  const length = buffer.readInt32BE(started ? 1 : 0);
  if (length < 4 || length > MAX_MESSAGE_BYTES) throw new ProtocolError(`bad length ${length}`);
  const total = started ? length + 1 : length;
  if (buffer.length < total) return undefined;
  const bytes = buffer.subarray(0, total);
  const rest = buffer.subarray(total);
  if (started)
    return { frame: { kind: 'message', type: String.fromCharCode(bytes[0] ?? 0), bytes }, rest };
  if (length < 8) throw new ProtocolError('startup frame too short');
  const code = bytes.readInt32BE(4);
  if (code === SSL_REQUEST) return { frame: { kind: 'ssl-request' }, rest };
  if (code === GSSENC_REQUEST) return { frame: { kind: 'gssenc-request' }, rest };
  if (code === CANCEL_REQUEST) return { frame: { kind: 'cancel-request' }, rest };
  if (code !== PROTOCOL_3) throw new ProtocolError(`unsupported protocol ${code}`);
  return { frame: { kind: 'startup', bytes }, rest };
}

/**
 * The name a connection's statement or portal `name` has in the shared session: the unnamed one
 * stays unnamed (the server runs each connection's messages up to Sync as one unit, so nobody
 * else's Parse can replace it meanwhile); a named one gets `prefix`, hashed when too long.
 */
export function sessionName(prefix: string, name: string): string {
  if (name === '') return '';
  const renamed = `${prefix}${name}`;
  if (Buffer.byteLength(renamed) <= MAX_NAME_BYTES) return renamed;
  return `${prefix}${createHash('sha1').update(name).digest('hex')}`;
}

/**
 * `message` with its statement and portal names put in the connection's namespace (Parse, Bind,
 * Describe, Execute, Close); any other message as it is. `named` receives each statement name
 * a Parse creates, so that the connection can close them when it ends.
 */
export function renameMessage(
  message: Buffer,
  prefix: string,
  named: (statement: string) => void,
): Buffer {
  const type = String.fromCharCode(message[0] ?? 0);
  const reader = new FieldReader(message, 5);
  switch (type) {
    case 'P': {
      const statement = sessionName(prefix, reader.cstring());
      if (statement !== '') named(statement);
      return build('P', [cstring(statement), message.subarray(reader.offset)]);
    }
    case 'B': {
      const portal = sessionName(prefix, reader.cstring());
      const statement = sessionName(prefix, reader.cstring());
      return build('B', [cstring(portal), cstring(statement), message.subarray(reader.offset)]);
    }
    case 'E': {
      const portal = sessionName(prefix, reader.cstring());
      return build('E', [cstring(portal), message.subarray(reader.offset)]);
    }
    case 'D':
    case 'C': {
      const target = message.subarray(5, 6);
      reader.offset = 6;
      const name = sessionName(prefix, reader.cstring());
      return build(type, [target, cstring(name), message.subarray(reader.offset)]);
    }
    default:
      return message;
  }
}

/** A Close of statement `name` (already in the session's namespace), as a client would send it. */
export function closeStatement(name: string): Buffer {
  return build('C', [Buffer.from('S'), cstring(name)]);
}

/** A Sync message. */
export const SYNC = build('S', []);

function build(type: string, parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

function cstring(value: string): Buffer {
  return Buffer.concat([Buffer.from(value), Buffer.from([0])]);
}

class FieldReader {
  readonly #bytes: Buffer;
  offset: number;

  constructor(bytes: Buffer, offset: number) {
    this.#bytes = bytes;
    this.offset = offset;
  }

  /** A NUL-terminated string. @throws {ProtocolError} when the NUL is missing. */
  cstring(): string {
    const end = this.#bytes.indexOf(0, this.offset);
    if (end === -1) throw new ProtocolError('unterminated string');
    const value = this.#bytes.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }
}
