import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  type LogEntry,
  type LogQuery,
  type PodLogWriter,
  parseEntries,
  renderEntries,
} from '../pods/pod-log';

// The part of the kubelet API the stand-in kubelet serves, one TLS server per simulated node, so the
// API server's pods/log proxy (`kubectl logs`) works as on a real node. exec/attach/port-forward
// need the SPDY or WebSocket streaming protocols and are answered 501.

/** PEM files of the serving certificate and the CA that signs the API server's client certificate. */
export interface KubeletTls {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** A pod's log as the server finds it. */
export interface PodLogRef {
  /** The CRI log file. */
  readonly path: string;
  /** The container's name (the pod's first container). */
  readonly container: string;
  /** Still being written (the container runs); undefined or closed once it is done. */
  readonly writer: PodLogWriter | undefined;
}

/** Looks up a pod of this node by namespace and name; undefined for a pod the node does not know. */
export type PodLogLookup = (namespace: string, pod: string) => PodLogRef | undefined;

export class KubeletServer {
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on 127.0.0.1 on a free port; every client must present a certificate of the CA. */
  static async start(node: string, tls: KubeletTls, lookup: PodLogLookup): Promise<KubeletServer> {
    const [ca, cert, key] = await Promise.all([tls.caCert, tls.cert, tls.key].map((f) => readFile(f)));
    const server = createServer(
      { ca, cert, key, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        handle(node, lookup, req, res).catch((err: Error) => {
          if (!res.headersSent) reply(res, 500, `stand-in kubelet: ${err.message}`);
          else res.destroy();
        });
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new KubeletServer(server, (server.address() as AddressInfo).port);
  }

  /** Stops listening and ends open connections (followers of a running pod's log). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

async function handle(
  node: string,
  lookup: PodLogLookup,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://kubelet');
  if (url.pathname === '/healthz') return reply(res, 200, 'ok');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (['exec', 'attach', 'portForward', 'run'].includes(parts[0] ?? '')) {
    return reply(
      res,
      501,
      `${parts[0]} is not supported by the stand-in kubelet of node ${node}: it runs pods as local processes and serves only their logs (kubectl logs)`,
    );
  }
  if (parts[0] !== 'containerLogs' || parts.length !== 4 || req.method !== 'GET') {
    return reply(res, 404, `the stand-in kubelet serves GET /containerLogs/<namespace>/<pod>/<container>`);
  }
  const [, namespace, podName, container] = parts as [string, string, string, string];
  const ref = lookup(namespace, podName);
  if (!ref) return reply(res, 404, `pod ${namespace}/${podName} is not known on node ${node}`);
  if (container !== ref.container) {
    return reply(res, 400, `container ${container} is not valid for pod ${podName}`);
  }
  const q = url.searchParams;
  if (q.get('previous') === 'true') {
    // restartPolicy Never and one container: there is never an earlier instance.
    return reply(res, 400, `previous terminated container "${container}" in pod "${podName}" not found`);
  }
  const query = parseQuery(q);
  if (typeof query === 'string') return reply(res, 400, query);
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'transfer-encoding': 'chunked' });
  const text = await readFile(ref.path, 'utf8').catch(() => '');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const first = renderEntries(parseEntries(complete), query);
  res.write(first);
  if (q.get('follow') !== 'true') {
    res.end();
    return;
  }
  await follow(ref, Buffer.byteLength(complete), query, Buffer.byteLength(first), res);
}

function parseQuery(q: URLSearchParams): LogQuery | string {
  const int = (name: string): number | undefined | string => {
    const v = q.get(name);
    if (v === null) return undefined;
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 ? n : `${name} must be a non-negative integer, got ${v}`;
  };
  const tailLines = int('tailLines');
  const limitBytes = int('limitBytes');
  const sinceSeconds = int('sinceSeconds');
  for (const v of [tailLines, limitBytes, sinceSeconds]) if (typeof v === 'string') return v;
  const sinceTime = q.get('sinceTime');
  const since =
    sinceTime !== null
      ? new Date(sinceTime)
      : sinceSeconds !== undefined
        ? new Date(Date.now() - (sinceSeconds as number) * 1000)
        : undefined;
  if (since && Number.isNaN(since.getTime())) return `sinceTime ${sinceTime} is not an RFC 3339 time`;
  return {
    timestamps: q.get('timestamps') === 'true',
    tailLines: tailLines as number | undefined,
    limitBytes: limitBytes as number | undefined,
    since,
  };
}

/**
 * Streams what is appended to the log after `offset` bytes until the container is done and all of
 * it was sent, the client goes away, or limitBytes is reached. The writer's `grew` event wakes it;
 * the file stays the source of truth, so nothing between the first read and the subscription is lost.
 */
async function follow(
  ref: PodLogRef,
  startOffset: number,
  query: LogQuery,
  sentBytes: number,
  res: ServerResponse,
): Promise<void> {
  let offset = startOffset;
  let sent = sentBytes;
  let gone = false;
  let wake: (() => void) | undefined;
  const onGrew = () => wake?.();
  const onClose = () => {
    gone = true;
    wake?.();
  };
  ref.writer?.on('grew', onGrew);
  res.once('close', onClose);
  const lineQuery: LogQuery = { timestamps: query.timestamps };
  try {
    for (;;) {
      const done = !ref.writer || ref.writer.closed;
      const text = (await readFile(ref.path).catch(() => Buffer.alloc(0))).subarray(offset).toString('utf8');
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      offset += Buffer.byteLength(complete);
      const entries: LogEntry[] = parseEntries(complete);
      let out = renderEntries(entries, lineQuery);
      if (query.limitBytes !== undefined) {
        out = Buffer.from(out)
          .subarray(0, Math.max(0, query.limitBytes - sent))
          .toString();
      }
      if (out) {
        res.write(out);
        sent += Buffer.byteLength(out);
      }
      if (gone || done || (query.limitBytes !== undefined && sent >= query.limitBytes)) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        // A safety net: a wake-up lost between the read and this wait costs at most a second.
        setTimeout(resolve, 1000).unref();
      });
      wake = undefined;
    }
  } finally {
    ref.writer?.off('grew', onGrew);
    res.off('close', onClose);
    if (!gone) res.end();
  }
}
