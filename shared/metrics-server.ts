import { createServer, Server } from 'node:http';
import type { Registry } from 'prom-client';
import { basicAuthChecker, Credential } from './basic-auth';
import type { Logger } from './logger';
import { listen } from './startup';

/**
 * /metrics (basic auth when credentials are given) and /healthz on their own port, for the
 * processes that have no HTTP server of their own (sidecar, updater). A port that cannot be
 * listened on rejects with a StartupError naming `setting`.
 */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  log: Logger,
  auth: Credential | undefined,
  setting: string,
): Promise<Server> {
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
  const bound = await listen(server, port, host, setting);
  log.info({ host, port: bound }, 'metrics listening');
  return server;
}
