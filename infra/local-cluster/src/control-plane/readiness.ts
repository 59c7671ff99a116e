import type { ChildProcess } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import type { KubeClient } from '@reaper-flow/k8s';
import { tail } from './daemon';

/** A process that did not become ready; the message carries the tail of its log. */
export class ReadinessError extends Error {
  override readonly name = 'ReadinessError';
  readonly code = 'NotReady';
}

/**
 * Polls `check` until it returns true. Fails early when `child` exits, and on timeout; either way the
 * error includes the last 40 lines of the process's log, which is where the reason is.
 */
export async function waitReady(
  name: string,
  check: () => Promise<boolean>,
  opts: { log: string; child?: ChildProcess; timeoutMs: number },
): Promise<void> {
  let exited: string | undefined;
  const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
    exited = signal ? `killed by ${signal}` : `exited with code ${code}`;
  };
  opts.child?.once('exit', onExit);
  const deadline = Date.now() + opts.timeoutMs;
  let lastError = 'not ready yet';
  try {
    for (;;) {
      try {
        if (await check()) return;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (exited || Date.now() > deadline) {
        const why = exited ?? `not ready after ${opts.timeoutMs} ms (last check: ${lastError})`;
        const logTail = await tail(opts.log, 40);
        throw new ReadinessError(`${name} ${why}; last 40 lines of ${opts.log}:\n${logTail}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    opts.child?.off('exit', onExit);
  }
}

/** etcd answers /health with {"health":"true"}. */
export async function etcdHealthy(clientUrl: string): Promise<boolean> {
  const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { health?: string };
  return body.health === 'true';
}

/** kube-apiserver's /readyz is "ok" once storage, RBAC bootstrap and the rest are done. */
export async function apiserverReady(client: KubeClient): Promise<boolean> {
  const body = await client.request<string>('GET', '/readyz', { raw: true });
  return body.trim() === 'ok';
}

/** Sends PING over a raw socket (no client library needed) and expects +PONG. */
export function redisPing(redisUrl: string, timeoutMs = 2000): Promise<boolean> {
  const url = new URL(redisUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    let reply = '';
    const timer = setTimeout(() => socket.destroy(new Error('PING timed out')), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (reply.includes('\r\n')) {
        clearTimeout(timer);
        socket.end();
        if (reply.startsWith('+PONG')) resolve(true);
        else reject(new Error(`redis answered ${reply.trim()}`));
      }
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * A control-plane component's /healthz on its secure port answers "ok" (the path is always allowed
 * without credentials; its serving certificate is self-signed, so it is not verified here).
 */
export function componentHealthy(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = httpsGet(
      { host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 2000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve(res.statusCode === 200 && body.trim() === 'ok'));
      },
    );
    req.once('timeout', () => req.destroy(new Error('/healthz timed out')));
    req.once('error', reject);
  });
}
