import { connect, createServer, Socket } from 'node:net';

/**
 * Raw TCP on both sides of a proxy: requests written byte for byte (no HTTP client that would
 * encode, normalise or refuse them first) and an upstream that records every byte it receives.
 */

/** What the raw upstream answers to every request (no body to a HEAD). */
export const UPSTREAM_BODY = 'upstream ok\n';
const UPSTREAM_HEAD = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${UPSTREAM_BODY.length}\r\n\r\n`;

export interface UpstreamConnection {
  /** Every byte received on the connection, in order. */
  bytes: Buffer;
  /** The peer closed it: `bytes` is complete. */
  closed: boolean;
}

/**
 * A TCP server on 127.0.0.1 standing in for the gorouter: it records each connection's bytes
 * until the peer closes it, and answers a fixed 200 once it has seen the end of a request head.
 * Nothing it receives is interpreted beyond that: the tests look at the bytes.
 */
export async function startRawUpstream() {
  const connections: UpstreamConnection[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    const conn: UpstreamConnection = { bytes: Buffer.alloc(0), closed: false };
    connections.push(conn);
    sockets.add(sock);
    let answered = false;
    sock.on('data', (d) => {
      conn.bytes = Buffer.concat([conn.bytes, d]);
      if (!answered && conn.bytes.includes('\r\n\r\n')) {
        answered = true;
        const head = conn.bytes.subarray(0, 5).toString('latin1') === 'HEAD ';
        // Half-close: whatever the proxy still sends (a body it should not send) is recorded.
        sock.end(head ? UPSTREAM_HEAD : UPSTREAM_HEAD + UPSTREAM_BODY);
      }
    });
    sock.on('close', () => {
      conn.closed = true;
      sockets.delete(sock);
    });
    sock.on('error', () => {
      /* recorded as closed */
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('raw upstream has no port');
  return {
    port: address.port,
    connections,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export type RawUpstream = Awaited<ReturnType<typeof startRawUpstream>>;

/** A request head as it arrived upstream: split on CRLF only, nothing decoded. */
export interface ArrivedRequest {
  requestLine: string;
  /** "Name: value" lines in the order received. */
  headerLines: string[];
  /** Bytes after the first empty line: a body, or a second request. */
  rest: Buffer;
}

/** Splits recorded bytes at the first CRLF CRLF; fails when there is none (no complete head arrived). */
export function parseArrived(bytes: Buffer): ArrivedRequest {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete request head upstream: ${JSON.stringify(bytes.toString('latin1'))}`);
  const [requestLine, ...headerLines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  return { requestLine, headerLines, rest: bytes.subarray(end + 4) };
}

export interface RawResponse {
  status: number;
  /** Header names lower-cased; the last of repeated ones. */
  headers: Record<string, string>;
  body: string;
}

/**
 * Writes `bytes` to 127.0.0.1:port and reads until the server closes the connection (send
 * "Connection: close" in the request), then parses the final response (1xx skipped). Rejects
 * after timeoutMs.
 */
export function sendRaw(port: number, bytes: string | Buffer, timeoutMs = 15_000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new Error(
          `no complete answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1'))}`,
        ),
      );
    }, timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {
      /* a reset after the answer is still an answer; parsed on close */
    });
    sock.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks).toString('latin1')));
      } catch (err) {
        reject(err);
      }
    });
    sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

function parseResponse(text: string): RawResponse {
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(text)}`);
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine);
    if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(text)}`);
    const status = Number(m[1]);
    rest = rest.slice(end + 4);
    if (status >= 100 && status < 200) continue; // e.g. 100 Continue before the answer
    const headers: Record<string, string> = {};
    for (const l of lines) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status, headers, body: rest };
  }
}
