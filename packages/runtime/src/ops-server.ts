import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface OpsServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  /** Liveness: false makes /livez answer 503 (the process should be restarted). */
  readonly live: () => boolean | string;
  /** Readiness: false makes /readyz answer 503. A string is reported as the reason. */
  readonly ready: () => boolean | string;
  /** Called before a scrape (e.g. to sample queue depths). */
  readonly beforeScrape?: () => Promise<void>;
}

/** Serves /metrics (Prometheus), /livez and /readyz. Resolves with the bound port. */
export async function startOpsServer(opts: OpsServerOptions): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const answer = (check: () => boolean | string) => {
      const v = check();
      const ok = v === true;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ok ? 'ok\n' : `${v === false ? 'not ok' : v}\n`);
    };
    if (url.startsWith('/livez') || url.startsWith('/healthz')) return answer(opts.live);
    if (url.startsWith('/readyz')) return answer(opts.ready);
    if (url.startsWith('/metrics')) {
      (opts.beforeScrape?.() ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => opts.registry.metrics())
        .then((body) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(body);
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
      return;
    }
    res.writeHead(404);
    res.end('not found: try /metrics, /livez, /readyz\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return { server, port };
}
