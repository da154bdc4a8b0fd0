import { createServer, IncomingHttpHeaders } from 'node:http';

/** A stand-in for a bound app: serves Prometheus text on any path ending in `metrics`, records every request. */
export async function startMetricsApp() {
  const requests: Array<{ url: string; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    if ((req.url ?? '').split('?')[0].endsWith('metrics')) {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(`# HELP demo_requests_total Requests.\n# TYPE demo_requests_total counter\ndemo_requests_total ${requests.length}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    requests,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
