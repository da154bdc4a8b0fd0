import { createServer, Server } from 'node:http';
import type { Registry } from 'prom-client';
import { basicAuthChecker, Credential } from './basic-auth';
import type { Logger } from './logger';

/**
 * /metrics (basic auth when credentials are given) and /healthz on their own port, for the
 * processes that have no HTTP server of their own (sidecar, updater).
 */
export function serveMetrics(registry: Registry, host: string, port: number, log: Logger, auth?: Credential): Promise<Server> {
  const authorised = auth ? basicAuthChecker(auth) : () => true;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      if (!authorised(req.headers.authorization)) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="cf-app-discovery"' }).end();
        return;
      }
      void registry.metrics().then((text) => {
        res.writeHead(200, { 'Content-Type': registry.contentType });
        res.end(text);
      });
    } else if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"status":"ok"}');
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      log.info({ host, port: typeof a === 'object' && a ? a.port : port }, 'metrics listening');
      resolve(server);
    });
  });
}
