// Helpers for integration test files (`*.int.test.ts`), backed by the cluster of global-setup.ts.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KubeClient, Resources } from '@reaper-flow/k8s';
import { afterAll, beforeAll, inject } from 'vitest';

export interface TestEnv {
  readonly kubeconfigPath: string;
  readonly redisUrl: string;
  readonly binDir: string;
  /** State dir of the stand-in kubelet ('' when unknown): pod logs are under nodes/<node>/logs/. */
  readonly kubeletStateDir: string;
}

/** Where the test cluster is: provided by global-setup, with the environment as a fallback. */
export function testEnv(): TestEnv {
  const pick = (
    key: 'kubeconfigPath' | 'redisUrl' | 'binDir' | 'kubeletStateDir',
    env: string | undefined,
  ) => {
    const value = inject(key) || env;
    if (value === undefined)
      throw new Error(`test environment has no ${key}: is test/harness/global-setup.ts the globalSetup?`);
    return value;
  };
  return {
    kubeconfigPath: pick('kubeconfigPath', process.env.KUBECONFIG),
    redisUrl: pick('redisUrl', process.env.REDIS_URL),
    binDir: pick('binDir', process.env.REAPER_FLOW_BIN_DIR),
    kubeletStateDir: pick('kubeletStateDir', ''),
  };
}

export interface TestNamespace {
  /** Admin client of the test cluster. */
  readonly client: KubeClient;
  readonly namespace: string;
  /** A Redis key prefix of this file only, hash-tagged so a queue's keys share a cluster slot. */
  readonly queuePrefix: string;
}

/**
 * A namespace of its own for the calling test file: created (with its `default` ServiceAccount, which
 * pods need) in beforeAll, deleted in afterAll. Read the fields inside tests or hooks, not at
 * collection time.
 */
export function useTestNamespace(prefix: string): TestNamespace {
  let ctx: TestNamespace | undefined;
  beforeAll(async () => {
    const client = await KubeClient.create({ kubeconfigPath: testEnv().kubeconfigPath });
    const suffix = randomBytes(4).toString('hex');
    const namespace = `${dnsLabel(prefix, 50)}-${suffix}`;
    await client.create(Resources.namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace, labels: { 'reaper.io/test': 'true' } },
    });
    await waitFor(() => client.get(Resources.serviceAccounts, 'default', { namespace }), {
      description: `ServiceAccount default in namespace ${namespace}`,
      timeoutMs: 30_000,
    });
    ctx = { client, namespace, queuePrefix: `{rf-test-${suffix}}` };
  });
  afterAll(async () => {
    if (!ctx) return;
    await ctx.client.delete(Resources.namespaces, ctx.namespace);
    ctx.client.close();
  });
  const get = (): TestNamespace => {
    if (!ctx)
      throw new Error('useTestNamespace: used before its beforeAll ran (read it inside a test or hook)');
    return ctx;
  };
  return {
    get client() {
      return get().client;
    },
    get namespace() {
      return get().namespace;
    },
    get queuePrefix() {
      return get().queuePrefix;
    },
  };
}

export interface WaitForOptions {
  /** What is awaited, for the timeout message ("pod x Succeeded"). */
  readonly description: string;
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Polls `fn` until it returns a truthy value and returns that value. On timeout it fails with the
 * description and the last value (or error) seen. The only way tests wait: for a condition.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitForOptions): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const shown = last instanceof Error ? `${last.name}: ${last.message}` : safeJson(last);
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${opts.description}; last value: ${shown}`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}

/** A node name no other test uses: `<prefix>-<random>`. */
export function uniqueNodeName(prefix = 'node'): string {
  return `${dnsLabel(prefix, 50)}-${randomBytes(4).toString('hex')}`;
}

/** Runs the bundled kubectl against the test cluster, or against `opts.cluster` (a test's own). */
export function kubectl(
  args: readonly string[],
  opts: { input?: string; cluster?: { readonly binDir: string; readonly kubeconfigPath: string } } = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  const env = opts.cluster ?? testEnv();
  return new Promise((resolve, reject) => {
    const child = spawn(join(env.binDir, 'kubectl'), args, {
      env: { ...process.env, KUBECONFIG: env.kubeconfigPath },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout, stderr, code: code ?? 1 }));
    child.stdin.end(opts.input ?? '');
  });
}

function dnsLabel(text: string, max: number): string {
  const label = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/, '');
  return label || 'test';
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value)?.slice(0, 2000) ?? String(value);
  } catch {
    return String(value);
  }
}
