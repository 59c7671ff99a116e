import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { type BearerSource, execPlugin, rereadEvery, staticToken, tokenFile } from './credentials';
import { ApiError, codeForStatus } from './errors';
import {
  type FileOrData,
  type KubeconfigSources,
  loadKubeconfig,
  type ResolvedKubeconfig,
} from './kubeconfig';
import { type ResourceRef, resourcePath } from './resources';

/** One finished API request, for metrics (verb, resource, HTTP code, duration). */
export interface RequestMetric {
  readonly verb: string;
  readonly resource: string;
  readonly code: number;
  readonly durationMs: number;
}

export interface KubeClientOptions {
  /**
   * Path of a kubeconfig (or a `:`-separated list, merged like KUBECONFIG); defaults to
   * $KUBECONFIG, then ~/.kube/config, then in-cluster (see loadKubeconfig).
   */
  readonly kubeconfigPath?: string | undefined;
  /** A context of the kubeconfig to use instead of its current-context (kubectl's --context). */
  readonly context?: string | undefined;
  /** Bearer token to use instead of the kubeconfig's user (e.g. a ServiceAccount token). */
  readonly token?: string;
  /**
   * How often a token file (the user's `tokenFile`, or the in-cluster ServiceAccount token) is
   * read again; default 60 s, as client-go. It is also read again at once after a 401.
   */
  readonly tokenFileRefreshMs?: number;
  /** Max concurrent sockets to the API server (keep-alive pool). */
  readonly maxSockets?: number;
  readonly requestTimeoutMs?: number;
  readonly userAgent?: string;
  readonly onRequest?: (m: RequestMetric) => void;
  /** Where the kubeconfig is looked for when no path is given (a test's fake ServiceAccount). */
  readonly kubeconfigSources?: KubeconfigSources;
}

export type PatchType = 'merge' | 'json' | 'strategic' | 'apply';

const CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface ObjectOpts {
  readonly namespace?: string | undefined;
  readonly subresource?: string | undefined;
  readonly fieldManager?: string | undefined;
  readonly dryRun?: boolean | undefined;
}

export interface ListOpts {
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly limit?: number | undefined;
  readonly continue?: string | undefined;
  readonly resourceVersion?: string | undefined;
}

export interface WatchOpts extends ListOpts {
  readonly allowWatchBookmarks?: boolean;
  readonly timeoutSeconds?: number;
  readonly signal?: AbortSignal;
}

export interface DeleteOpts {
  readonly namespace?: string | undefined;
  readonly propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  readonly preconditions?: { uid?: string; resourceVersion?: string };
  readonly gracePeriodSeconds?: number;
}

/** A list response: items plus the collection's resourceVersion and continue token. */
export interface ObjectList<T> {
  readonly items: T[];
  readonly metadata: { resourceVersion?: string; continue?: string };
}

/** One watch event as the API server sends it. */
export interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  readonly object: T;
}

interface Connection {
  readonly server: URL;
  readonly agent: https.Agent;
  readonly headers: Record<string, string>;
  /** Where the Authorization header comes from; none when the client certificate authenticates. */
  readonly bearer?: BearerSource | undefined;
  /** The namespace of the kubeconfig context used, if it names one. */
  readonly namespace?: string | undefined;
}

type SendOpts = {
  query?: Record<string, string>;
  /** Extra request headers (e.g. for a service behind the API server's proxy). */
  headers?: Record<string, string>;
  body?: unknown;
  contentType?: string;
  resource?: string;
  verb?: string;
  signal?: AbortSignal | undefined;
};

const DEFAULT_TOKEN_FILE_REFRESH_MS = 60_000;

/**
 * A small, explicit Kubernetes REST client: keep-alive connection pool, typed errors with stable
 * codes, server-side apply, streaming watches, and a metrics hook on every request. The only
 * module in reaper-flow that speaks HTTP to the API server.
 */
export class KubeClient {
  private constructor(
    private readonly conn: Connection,
    private readonly opts: KubeClientOptions,
  ) {}

  /**
   * Builds a client from a kubeconfig. Auth: a client certificate, a token, a token file (read
   * again every `tokenFileRefreshMs` and after a 401), an exec plugin (run again before its
   * credential expires and after a 401), or an auth provider (oidc, gcp, azure) of
   * @kubernetes/client-node, which is imported only for such a user.
   */
  static async create(opts: KubeClientOptions = {}): Promise<KubeClient> {
    const kc = loadKubeconfig(opts.kubeconfigPath, opts.context, opts.kubeconfigSources);
    const { user } = kc;
    const agentOpts: https.AgentOptions = {
      keepAlive: true,
      maxSockets: opts.maxSockets ?? 64,
      rejectUnauthorized: !kc.insecureSkipTlsVerify,
    };
    const ca = readFileOrData(kc.certificateAuthority);
    if (ca) agentOpts.ca = ca;
    if (kc.tlsServerName) agentOpts.servername = kc.tlsServerName;
    const headers: Record<string, string> = {};
    if (user.impersonate) headers['Impersonate-User'] = user.impersonate;
    headers['User-Agent'] = opts.userAgent ?? 'reaper-flow';
    let bearer: BearerSource | undefined;
    if (opts.token) {
      bearer = staticToken(opts.token);
    } else {
      const cert = readFileOrData(user.clientCertificate);
      const key = readFileOrData(user.clientKey);
      if (cert) agentOpts.cert = cert;
      if (key) agentOpts.key = key;
      bearer = bearerOf(kc, opts.tokenFileRefreshMs ?? DEFAULT_TOKEN_FILE_REFRESH_MS);
    }
    // Fail at start-up, not at the first request, when the credential cannot be had at all.
    if (bearer) await bearer.token();
    return new KubeClient(
      {
        server: new URL(kc.server),
        agent: new https.Agent(agentOpts),
        headers,
        bearer,
        namespace: kc.namespace,
      },
      opts,
    );
  }

  /** The same server and CA, authenticated with a bearer token instead. */
  async withToken(token: string, userAgent?: string): Promise<KubeClient> {
    const { cert: _cert, key: _key, ...rest } = this.conn.agent.options;
    const headers: Record<string, string> = { ...this.conn.headers };
    if (userAgent) headers['User-Agent'] = userAgent;
    return new KubeClient(
      { server: this.conn.server, agent: new https.Agent(rest), headers, bearer: staticToken(token) },
      this.opts,
    );
  }

  get serverUrl(): string {
    return this.conn.server.toString();
  }

  /** The namespace the kubeconfig context names (what kubectl uses without -n), if any. */
  get contextNamespace(): string | undefined {
    return this.conn.namespace;
  }

  /**
   * A streaming GET of any path (a Pod's log with follow=true, say): the response body as it
   * arrives. A status >= 300 rejects with ApiError like request().
   */
  openStream(
    path: string,
    query: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    return this.open('GET', path, { query, signal, verb: 'WATCH' });
  }

  /** Closes pooled sockets (call on shutdown). */
  close(): void {
    this.conn.agent.destroy();
  }

  async get<T>(ref: ResourceRef, name: string, opts: ObjectOpts = {}): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', resourcePath(ref, { ...opts, name }), { resource: ref.plural });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NotFound') return undefined;
      throw err;
    }
  }

  list<T>(ref: ResourceRef, opts: ListOpts = {}): Promise<ObjectList<T>> {
    return this.request<ObjectList<T>>('GET', resourcePath(ref, opts), {
      resource: ref.plural,
      verb: 'LIST',
      query: listQuery(opts),
    });
  }

  /** Lists every page of a collection. */
  async listAll<T>(ref: ResourceRef, opts: ListOpts = {}): Promise<ObjectList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.list<T>(ref, { limit: 500, ...opts, continue: cont });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (cont);
    return { items, metadata: { resourceVersion } };
  }

  create<T>(ref: ResourceRef, body: unknown, opts: ObjectOpts = {}): Promise<T> {
    return this.request<T>('POST', resourcePath(ref, opts), {
      resource: ref.plural,
      body,
      query: writeQuery(opts),
    });
  }

  replace<T>(ref: ResourceRef, name: string, body: unknown, opts: ObjectOpts = {}): Promise<T> {
    return this.request<T>('PUT', resourcePath(ref, { ...opts, name }), {
      resource: ref.plural,
      body,
      query: writeQuery(opts),
    });
  }

  /** PATCH; `apply` is server-side apply and requires `fieldManager` (force is set). */
  patch<T>(
    ref: ResourceRef,
    name: string,
    type: PatchType,
    body: unknown,
    opts: ObjectOpts = {},
  ): Promise<T> {
    const query = writeQuery(opts);
    if (type === 'apply') {
      if (!opts.fieldManager) throw new Error('server-side apply needs a fieldManager');
      query.force = 'true';
    }
    return this.request<T>('PATCH', resourcePath(ref, { ...opts, name }), {
      resource: ref.plural,
      body,
      query,
      contentType: CONTENT_TYPES[type],
    });
  }

  /** DELETE; a missing object is not an error (returns false). */
  async delete(ref: ResourceRef, name: string, opts: DeleteOpts = {}): Promise<boolean> {
    const body: Record<string, unknown> = { apiVersion: 'v1', kind: 'DeleteOptions' };
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.preconditions) body.preconditions = opts.preconditions;
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    try {
      await this.request('DELETE', resourcePath(ref, { namespace: opts.namespace, name }), {
        resource: ref.plural,
        body,
      });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NotFound') return false;
      throw err;
    }
  }

  /**
   * Streams watch events until the server closes the stream, `signal` aborts, or an ERROR event
   * arrives (thrown as ApiError; 410 Gone has code 'Gone' so the caller re-lists).
   */
  async *watch<T>(ref: ResourceRef, opts: WatchOpts = {}): AsyncGenerator<WatchEvent<T>> {
    const query = listQuery(opts);
    query.watch = '1';
    if (opts.allowWatchBookmarks ?? true) query.allowWatchBookmarks = 'true';
    if (opts.timeoutSeconds) query.timeoutSeconds = String(opts.timeoutSeconds);
    const path = resourcePath(ref, opts);
    const res = await this.open('GET', path, {
      query,
      signal: opts.signal,
      resource: ref.plural,
      verb: 'WATCH',
    });
    let buffer = '';
    try {
      for await (const chunk of res) {
        buffer += (chunk as Buffer).toString('utf8');
        let nl = buffer.indexOf('\n');
        while (nl >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          nl = buffer.indexOf('\n');
          if (!line) continue;
          const event = JSON.parse(line) as WatchEvent<T>;
          if (event.type === 'ERROR') throw statusError(event.object, 500);
          yield event;
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (err instanceof ApiError) throw err;
      throw new ApiError(
        'Network',
        0,
        `watch ${path} broke: ${(err as Error).message}`,
        undefined,
        undefined,
        {
          cause: err,
        },
      );
    } finally {
      res.destroy();
    }
  }

  /** A raw JSON request against any path (used for /metrics, discovery, TokenRequest...). */
  async request<T>(
    method: string,
    path: string,
    opts: {
      query?: Record<string, string>;
      body?: unknown;
      contentType?: string;
      resource?: string;
      verb?: string;
      signal?: AbortSignal | undefined;
      raw?: boolean;
      headers?: Record<string, string>;
    } = {},
  ): Promise<T> {
    const res = await this.open(method, path, opts);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (opts.raw) return text as T;
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Sends the request; a 401 re-reads the bearer source once and, when that gave a different
   * token (the file was rotated, the exec credential renewed), sends it again with it.
   */
  private async open(method: string, path: string, opts: SendOpts): Promise<IncomingMessage> {
    const bearer = this.conn.bearer;
    if (!bearer) return this.send(method, path, opts, undefined);
    const token = await bearer.token();
    try {
      return await this.send(method, path, opts, token);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'Unauthorized') || opts.signal?.aborted) throw err;
      if (!(await bearer.refreshAfterRejection(token).catch(() => false))) throw err;
      return this.send(method, path, opts, await bearer.token());
    }
  }

  private send(
    method: string,
    path: string,
    opts: SendOpts,
    token: string | undefined,
  ): Promise<IncomingMessage> {
    const url = new URL(path, this.conn.server);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {
      ...opts.headers,
      ...this.conn.headers,
      Accept: 'application/json',
    };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    if (payload !== undefined) {
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    const started = performance.now();
    const verb = opts.verb ?? method;
    const resource = opts.resource ?? path;
    // Once per request: when the response starts, or when it fails before that. A request that
    // fails after its response started (a watch aborted or broken mid-stream, a body that times
    // out) was already counted; counting it again made every ended watch two.
    let reported = false;
    const report = (code: number) => {
      if (reported) return;
      reported = true;
      this.opts.onRequest?.({ verb, resource, code, durationMs: performance.now() - started });
    };
    const isWatch = verb === 'WATCH';
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { method, agent: this.conn.agent, headers, signal: opts.signal },
        (res) => {
          const status = res.statusCode ?? 0;
          report(status);
          if (status >= 200 && status < 300) {
            resolve(res);
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = JSON.parse(text);
            } catch {
              // not JSON: keep the text
            }
            reject(statusError(body, status, `${method} ${url.pathname}`));
          });
        },
      );
      if (!isWatch) {
        req.setTimeout(this.opts.requestTimeoutMs ?? 30_000, () => {
          req.destroy(new ApiError('Timeout', 0, `${method} ${url.pathname} timed out`));
        });
      }
      req.on('error', (err) => {
        report(0);
        if (err instanceof ApiError) {
          reject(err);
          return;
        }
        reject(
          new ApiError('Network', 0, `${method} ${url.pathname}: ${err.message}`, undefined, undefined, {
            cause: err,
          }),
        );
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}

/** A kubeconfig's `*-data` (base64) or `*` (file path) value. */
function readFileOrData(v: FileOrData | undefined): Buffer | undefined {
  if (v?.data) return Buffer.from(v.data, 'base64');
  if (v?.file) return readFileSync(v.file);
  return undefined;
}

/**
 * The bearer source of the kubeconfig's user, in client-go's order: a token file (`tokenFile`, or
 * the in-cluster ServiceAccount token), an exec plugin, a token, an auth provider; none when a
 * client certificate is all it has.
 */
function bearerOf(kc: ResolvedKubeconfig, refreshMs: number): BearerSource | undefined {
  const { user } = kc;
  if (user.tokenFile) return tokenFile(user.tokenFile, refreshMs);
  if (user.exec) return execPlugin(user.exec);
  if (user.token) return staticToken(user.token);
  const provider = user.authProvider;
  if (provider) {
    // oidc, azure, gcp (deprecated, rare): @kubernetes/client-node refreshes its own credential;
    // ask it again now and then. Imported here only, so no other user pays for it at start.
    let library: Promise<ProviderLibrary> | undefined;
    return rereadEvery(
      async () => {
        library ??= providerLibrary(kc);
        const probe: https.RequestOptions = {};
        await (await library).applyToHTTPSOptions(probe);
        const header = (probe.headers as Record<string, string> | undefined)?.Authorization ?? '';
        if (!header.startsWith('Bearer ')) throw new Error(`auth provider ${provider.name} gave no token`);
        return header.slice('Bearer '.length);
      },
      `auth provider ${provider.name}`,
      refreshMs,
    );
  }
  return undefined;
}

interface ProviderLibrary {
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

/** A @kubernetes/client-node KubeConfig holding just the resolved cluster and auth-provider user. */
async function providerLibrary(kc: ResolvedKubeconfig): Promise<ProviderLibrary> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const lib = new KubeConfig();
  lib.loadFromOptions({
    clusters: [{ name: 'cluster', server: kc.server, skipTLSVerify: kc.insecureSkipTlsVerify }],
    // A copy: the library writes refreshed credentials into the provider's config.
    users: [{ name: kc.user.name, authProvider: structuredClone(kc.user.authProvider) }],
    contexts: [{ name: kc.context, cluster: 'cluster', user: kc.user.name }],
    currentContext: kc.context,
  });
  return lib;
}

function statusError(body: unknown, fallbackStatus: number, context?: string): ApiError {
  const status = body as { code?: number; reason?: string; message?: string; details?: unknown } | undefined;
  const code = typeof status?.code === 'number' ? status.code : fallbackStatus;
  const message = typeof status?.message === 'string' ? status.message : String(body ?? 'unknown error');
  return new ApiError(
    codeForStatus(code, status?.reason),
    code,
    context ? `${context}: ${message}` : message,
    status?.reason,
    status?.details,
  );
}

function listQuery(opts: ListOpts): Record<string, string> {
  const q: Record<string, string> = {};
  if (opts.labelSelector) q.labelSelector = opts.labelSelector;
  if (opts.fieldSelector) q.fieldSelector = opts.fieldSelector;
  if (opts.limit) q.limit = String(opts.limit);
  if (opts.continue) q.continue = opts.continue;
  if (opts.resourceVersion !== undefined) q.resourceVersion = opts.resourceVersion;
  return q;
}

function writeQuery(opts: ObjectOpts): Record<string, string> {
  const q: Record<string, string> = {};
  if (opts.fieldManager) q.fieldManager = opts.fieldManager;
  if (opts.dryRun) q.dryRun = 'All';
  return q;
}
