/**
 * _kit/http — what Node's HTTP server answers by itself (a request its parser refuses, an Expect
 * other than 100-continue) in the same RFC 9457 problem bodies as everything else. Used by the
 * functions' server and the development broker.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { problemBody } from './errors.js';

/** Node's own refusals, by error code: the status, else 400. */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request header fields too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request timeout'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload too large'],
};

function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, title] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'Bad request'];
  const body = problemBody(status, title, `the HTTP request could not be read (${err.code ?? err.message})`);
  socket.end(
    `HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function answerExpectation(req: IncomingMessage, res: ServerResponse): void {
  const body = problemBody(
    417,
    'Expectation failed',
    `Expect: ${String(req.headers['expect']).slice(0, 100)} is not supported; only 100-continue`,
  );
  res
    .writeHead(417, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body), connection: 'close' })
    .end(body);
}

export function answerHttpErrors(server: Server): void {
  server.on('clientError', answerClientError);
  server.on('checkExpectation', answerExpectation);
}
