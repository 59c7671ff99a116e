// What a bench run produces (results.json), and the header describing where it ran.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import type { KubeClient } from '@reaper-flow/k8s';
import { REPO_ROOT } from '@reaper-flow/local-cluster';
import type { Redis } from 'ioredis';
import type { RssPoint } from './meter';
import type { KeyClassUsage, RedisMemory } from './redis-stats';
import { redisInfo } from './redis-stats';
import type { FanoutResult } from './scenarios/fanout';
import type { FloorResult } from './scenarios/floor';
import type { HandoffResult } from './scenarios/handoff';
import type { NodeJoinResult } from './scenarios/node-join';
import type { RetryResult } from './scenarios/retry';

export interface Header {
  readonly startedAt: string;
  readonly mode: 'full' | 'quick' | 'custom';
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly loadAvgAtStart: readonly number[];
  readonly node: string;
  readonly kubernetes: string;
  readonly redis: string;
  readonly gitCommit: string;
  /** Files changed in the work tree relative to the commit (the bench measures the work tree). */
  readonly gitDirtyFiles: number;
  readonly cluster: 'local (started by the bench)' | 'external (KUBECONFIG + REDIS_URL)';
  /** How the simulated nodes run pods. */
  readonly pods: string;
}

interface AppResources {
  readonly peakRssMiB: number;
  readonly cpuSeconds: number;
}

export interface Results {
  header: Header;
  options: Record<string, unknown>;
  /** The engine configuration that differs from the defaults (environment given to the apps). */
  engineEnv: Record<string, string>;
  effective: {
    maxSockets: number;
    nodeRunConcurrency: number;
    podCreatesPerSecond: number;
    coalesceMs: number;
    retry: { baseMs: number; factor: number; capMs: number; jitter: number };
  };
  handoff?: HandoffResult;
  nodeJoin?: NodeJoinResult;
  retry?: RetryResult;
  floor?: FloorResult[];
  fanout?: FanoutResult[];
  /** The fan-out at `options.compareSize` with one scheduler replica (from `fanout`) and with two. */
  schedulers?: { one: FanoutResult; two: FanoutResult };
  resources: {
    apps: Record<string, AppResources>;
    /** CPU seconds per process, per scenario. */
    cpuByScenario: Record<string, Record<string, number>>;
    rssTimeline: RssPoint[];
  };
  redisMemory: {
    start?: RedisMemory;
    afterScenarios?: RedisMemory;
    afterNodesDeleted?: RedisMemory;
    byClassAtStart?: KeyClassUsage[];
    byClassAtEnd?: KeyClassUsage[];
  };
  profile?: { file: string; summary: string }[];
  warnings: string[];
  durationS: number;
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

export async function collectHeader(
  client: KubeClient,
  redis: Redis,
  mode: Header['mode'],
  external: boolean,
  loadAvg: readonly number[],
  pods: string,
): Promise<Header> {
  const version = await client
    .request<{ gitVersion?: string }>('GET', '/version')
    .catch(() => ({ gitVersion: 'unknown' }));
  const server = await redisInfo(redis, 'server').catch(() => ({}) as Record<string, string>);
  const status = git(['status', '--porcelain']);
  return {
    startedAt: new Date().toISOString(),
    mode,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    loadAvgAtStart: loadAvg,
    node: process.version,
    kubernetes: version.gitVersion ?? 'unknown',
    redis: server.redis_version ?? 'unknown',
    gitCommit: git(['rev-parse', 'HEAD']) || 'unknown',
    gitDirtyFiles: status ? status.split('\n').length : 0,
    cluster: external ? 'external (KUBECONFIG + REDIS_URL)' : 'local (started by the bench)',
    pods,
  };
}
