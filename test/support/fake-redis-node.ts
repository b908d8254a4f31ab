import { createServer, type Socket } from 'node:net';

/** A TCP server answering as a Redis node of another version would (see {@link startFakeRedisNode}). */
export interface FakeRedisNode {
  port: number;
  /** Every command received, as its words (`['INFO']`, `['CLIENT', 'SETINFO', …]`). */
  commands: string[][];
  stop(): Promise<void>;
}

/**
 * A stand-in for a Redis node this machine has no binary of (e.g. a Redis 6 cluster node), for a
 * client's checks at connect: it speaks just enough RESP on 127.0.0.1 (a free port). `HELLO 2|3`
 * answers as that version would (its protocol, version and mode), `INFO` answers `info` (the
 * `# Server`, `# Cluster`… text), `PING` answers `PONG`, `CLIENT SETINFO`
 * fails as on Redis < 7.2, and anything else gets `-ERR unknown command` (as a real node would
 * for a command it lacks). Requests are read as RESP arrays of bulk strings, which is what clients
 * send.
 */
export async function startFakeRedisNode(info: string): Promise<FakeRedisNode> {
  const commands: string[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const parsed = readCommand(buffered);
        if (!parsed) break;
        buffered = buffered.subarray(parsed.length);
        commands.push(parsed.words);
        socket.write(reply(parsed.words, info));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    commands,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function reply(words: string[], info: string): string {
  const [name = '', sub = ''] = words.map((word) => word.toUpperCase());
  if (name === 'PING') return '+PONG\r\n';
  if (name === 'HELLO') return hello(sub === '3' ? 3 : 2, info);
  if (name === 'INFO') return `$${Buffer.byteLength(info)}\r\n${info}\r\n`;
  if (name === 'CLIENT' && sub === 'SETINFO') {
    return "-ERR Unknown subcommand or wrong number of arguments for 'SETINFO'. Try CLIENT HELP.\r\n";
  }
  return `-ERR unknown command '${words[0] ?? ''}'\r\n`;
}

/** The HELLO reply (a map in RESP3, a flat array in RESP2) of a node reporting `info`'s version. */
function hello(protocol: 2 | 3, info: string): string {
  const version = /^redis_version:(\S+)/m.exec(info)?.[1] ?? '0.0.0';
  const mode = /^cluster_enabled:1/m.test(info) ? 'cluster' : 'standalone';
  const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  const fields = [
    ['server', bulk('redis')],
    ['version', bulk(version)],
    ['proto', `:${protocol}\r\n`],
    ['id', ':1\r\n'],
    ['mode', bulk(mode)],
    ['role', bulk('master')],
    ['modules', '*0\r\n'],
  ] as const;
  const body = fields.map(([key, value]) => bulk(key) + value).join('');
  return protocol === 3 ? `%${fields.length}\r\n${body}` : `*${2 * fields.length}\r\n${body}`;
}

/** One RESP array of bulk strings from the start of `buffer`, or undefined if incomplete. */
function readCommand(buffer: Buffer): { words: string[]; length: number } | undefined {
  let at = 0;
  const line = () => {
    const end = buffer.indexOf('\r\n', at);
    if (end < 0) return undefined;
    const text = buffer.toString('utf8', at, end);
    at = end + 2;
    return text;
  };
  const header = line();
  if (header === undefined) return undefined;
  if (!header.startsWith('*')) throw new Error(`not a RESP array: ${header}`);
  const words: string[] = [];
  for (let i = 0; i < Number(header.slice(1)); i++) {
    const size = line();
    if (size === undefined) return undefined;
    const length = Number(size.slice(1));
    if (buffer.length < at + length + 2) return undefined;
    words.push(buffer.toString('utf8', at, at + length));
    at += length + 2;
  }
  return { words, length: at };
}
