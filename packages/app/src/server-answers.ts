import { randomUUID } from 'node:crypto';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type AppErrorCode, appErrorCodes } from './errors.ts';

/**
 * Answers of the HTTP server itself, for requests Express never sees: a CONNECT, and bytes Node's
 * HTTP parser refuses. Both are written straight to the socket, in the API's error shape with
 * `X-Instance` and a fresh `X-Request-Id`, then the connection is closed.
 */

/** The whole response, status line to body, of an error answered before any route. */
function errorResponse(status: number, code: AppErrorCode, message: string, instance: string) {
  const body = JSON.stringify({ error: { code, message } });
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Instance: ${instance}\r\n` +
    `X-Request-Id: ${randomUUID()}\r\n` +
    'Connection: close\r\n\r\n' +
    body
  );
}

/**
 * Builds a `'connect'` listener for the HTTP server. Node hands CONNECT (a proxy tunnel request) to
 * this event instead of Express and, with no listener, drops the connection without a word; this
 * answers it like any other unknown route: 404 in the API's error shape, then closes.
 */
export function refuseConnect(instance: string): (req: IncomingMessage, socket: Duplex) => void {
  return (_req, socket) => {
    socket.on('error', () => {});
    socket.end(
      errorResponse(404, appErrorCodes.routeNotFound, 'CONNECT is not supported', instance),
    );
  };
}

/**
 * Builds a `'clientError'` listener for the HTTP server. Node's parser refuses some requests before
 * Express sees them (headers over its 16 kB limit, a method it does not know, a malformed request
 * line or a body longer than its `Content-Length`) and by default answers with a status line and
 * no body; this answers in the API's error shape: 431 `E_HEADERS_TOO_LARGE` for the headers, 400
 * `E_BAD_REQUEST` for the rest. A request that timed out gets Node's own 408; a connection the
 * client already closed gets nothing.
 */
export function answerClientError(
  instance: string,
): (error: Error & { code?: string }, socket: Duplex) => void {
  return (error, socket) => {
    socket.on('error', () => {});
    // The client reset the connection, or an answer is already on its way: nothing to add.
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
      return;
    }
    socket.end(
      error.code === 'HPE_HEADER_OVERFLOW'
        ? errorResponse(
            431,
            appErrorCodes.headersTooLarge,
            "the request's headers exceed 16 kB in all",
            instance,
          )
        : errorResponse(
            400,
            appErrorCodes.badRequest,
            'the request is not valid HTTP/1.1 (its request line, a header, or a body longer than its Content-Length)',
            instance,
          ),
    );
  };
}
