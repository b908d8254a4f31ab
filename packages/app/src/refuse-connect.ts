import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { appErrorCodes } from './errors.ts';

/**
 * Builds a `'connect'` listener for the HTTP server. Node hands CONNECT (a proxy tunnel request) to
 * this event instead of Express and, with no listener, drops the connection without a word; this
 * answers it like any other unknown route: 404 in the API's error shape, with `X-Instance`, then
 * closes.
 */
export function refuseConnect(instance: string): (req: IncomingMessage, socket: Duplex) => void {
  const body = JSON.stringify({
    error: { code: appErrorCodes.routeNotFound, message: 'CONNECT is not supported' },
  });
  const response =
    'HTTP/1.1 404 Not Found\r\n' +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Instance: ${instance}\r\n` +
    'Connection: close\r\n\r\n' +
    body;
  return (_req, socket) => {
    socket.on('error', () => {});
    socket.end(response);
  };
}
