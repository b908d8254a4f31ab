import { connect } from 'node:net';

/** What came back for a raw request; `status` is `null` when no status line arrived. */
export interface RawResponse {
  status: number | null;
  /** The response as received (headers and body), at most the first 64 KiB. */
  text: string;
}

const MAX_KEPT = 64 * 1024;

/**
 * Writes `request` byte for byte to 127.0.0.1:`port` (no client-side parsing or escaping, so any
 * malformed request can be sent) and collects the reply until the server closes the connection
 * or `timeoutMs` passes. Send `Connection: close` to get the reply promptly. The connection is
 * not half-closed unless `halfClose` says so: Node's HTTP server aborts a request in flight when
 * the client's FIN arrives, and its answer would be lost.
 */
export function rawRequest(
  port: number,
  request: string | Buffer,
  options: { timeoutMs?: number; halfClose?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let kept = 0;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match ? Number(match[1]) : null, text });
    };
    const timer = setTimeout(done, options.timeoutMs ?? 10_000);
    socket.on('data', (chunk: Buffer) => {
      if (kept < MAX_KEPT) chunks.push(chunk);
      kept += chunk.length;
    });
    // The server may answer (e.g. 413) and close before the whole body is written: EPIPE or
    // ECONNRESET then, with the answer already received.
    socket.on('error', () => {});
    socket.on('close', done);
    socket.on('connect', () => {
      if (options.halfClose) socket.end(request);
      else socket.write(request);
    });
  });
}

/** Builds a raw HTTP/1.1 request with `Connection: close` and, given a body, its length. */
export function httpRequest(
  method: string,
  path: string,
  options: { headers?: [string, string][]; body?: string | Buffer } = {},
): Buffer {
  const headers: [string, string][] = [
    ['Host', '127.0.0.1'],
    ['Connection', 'close'],
  ];
  headers.push(...(options.headers ?? []));
  const body = options.body === undefined ? undefined : Buffer.from(options.body);
  if (body) headers.push(['Content-Length', String(body.length)]);
  const head = `${method} ${path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  return body ? Buffer.concat([Buffer.from(head, 'latin1'), body]) : Buffer.from(head, 'latin1');
}
