import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * Where a client's bearer token comes from, refreshed while the process runs: a ServiceAccount
 * token file is rotated by the kubelet, and exec-plugin credentials expire. Without a refresh every
 * request fails with 401 once they do, until the process restarts.
 */
export interface BearerSource {
  /** The token for the next request: cached, refreshed first when it is due. */
  token(): Promise<string>;
  /**
   * The API server answered 401 to `rejected`: read the source again now. True when it holds a
   * different token (the request is worth one retry), false when the rejected one is all there is.
   */
  refreshAfterRejection(rejected: string): Promise<boolean>;
}

/** A token that never changes (a `token:` in the kubeconfig, or one passed in). */
export function staticToken(value: string): BearerSource {
  return {
    token: () => Promise.resolve(value),
    refreshAfterRejection: () => Promise.resolve(false),
  };
}

/**
 * A token file (kubeconfig `tokenFile`, or the in-cluster ServiceAccount token), read again once
 * `refreshMs` have passed since the last read (client-go: one minute), and at once after a 401.
 */
export function tokenFile(path: string, refreshMs: number, now: () => number = Date.now): BearerSource {
  return rereadEvery(
    async () => {
      const value = (await readFile(path, 'utf8')).trim();
      if (!value) throw new Error(`token file ${path} is empty`);
      return value;
    },
    `token file ${path}`,
    refreshMs,
    now,
  );
}

/**
 * A token that `read` returns, read again once `refreshMs` have passed since the last read, and at
 * once after a 401. A read that fails keeps the token read before (a file replaced by the kubelet
 * may be missing for a moment; that must not fail every request). Concurrent reads share one.
 */
export function rereadEvery(
  read: () => Promise<string>,
  what: string,
  refreshMs: number,
  now: () => number = Date.now,
): BearerSource {
  let cached: { value: string; readAt: number } | undefined;
  let reading: Promise<string> | undefined;
  const reread = (): Promise<string> => {
    reading ??= (async () => {
      try {
        const value = await read();
        cached = { value, readAt: now() };
        return value;
      } catch (err) {
        if (cached) return cached.value;
        throw new Error(`reading ${what}: ${(err as Error).message}`, { cause: err });
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };
  return {
    token: () => (cached && now() - cached.readAt < refreshMs ? Promise.resolve(cached.value) : reread()),
    async refreshAfterRejection(rejected) {
      return (await reread()) !== rejected;
    },
  };
}

/** The `exec` stanza of a kubeconfig user (client.authentication.k8s.io). */
export interface ExecConfig {
  readonly command: string;
  readonly args?: readonly string[] | null;
  readonly env?: readonly { name: string; value: string }[] | null;
  readonly apiVersion?: string;
}

const ExecCredential = z.object({
  status: z.object({
    token: z.string().min(1, 'the exec plugin returned no status.token'),
    expirationTimestamp: z.string().datetime({ offset: true }).optional(),
  }),
});

/**
 * An exec credential plugin (`users[].user.exec`): run again before the credential's
 * `expirationTimestamp` (a fifth of its lifetime before, at most a minute), and at once after a
 * 401. A credential without an expiry is kept until the API server rejects it. Concurrent
 * requests share one run of the plugin.
 */
export function execPlugin(exec: ExecConfig, now: () => number = Date.now): BearerSource {
  let cached: { value: string; refreshAt: number } | undefined;
  let running: Promise<string> | undefined;
  const run = (): Promise<string> => {
    running ??= (async () => {
      try {
        const obtainedAt = now();
        const stdout = await runPlugin(exec);
        const parsed = ExecCredential.safeParse(JSON.parse(stdout));
        if (!parsed.success)
          throw new Error(
            `exec plugin ${exec.command}: ${parsed.error.issues.map((i) => i.message).join('; ')}`,
          );
        const { token, expirationTimestamp } = parsed.data.status;
        let refreshAt = Number.POSITIVE_INFINITY;
        if (expirationTimestamp) {
          const expiresAt = Date.parse(expirationTimestamp);
          refreshAt = expiresAt - Math.min(60_000, Math.max(0, expiresAt - obtainedAt) / 5);
        }
        cached = { value: token, refreshAt };
        return token;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  return {
    token: () => (cached && now() < cached.refreshAt ? Promise.resolve(cached.value) : run()),
    async refreshAfterRejection(rejected) {
      return (await run()) !== rejected;
    },
  };
}

function runPlugin(exec: ExecConfig): Promise<string> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const e of exec.env ?? []) env[e.name] = e.value;
  // What client-go passes: the plugin may not prompt (no terminal here).
  env.KUBERNETES_EXEC_INFO = JSON.stringify({
    apiVersion: exec.apiVersion ?? 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    spec: { interactive: false },
  });
  return new Promise((resolve, reject) => {
    execFile(exec.command, [...(exec.args ?? [])], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(
          new Error(`exec plugin ${exec.command} failed: ${stderr.trim() || err.message}`, { cause: err }),
        );
        return;
      }
      resolve(stdout);
    });
  });
}
