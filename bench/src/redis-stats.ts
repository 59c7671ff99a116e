// Redis readings: INFO sections, command counts (commandstats) and memory by key class.
import type { Redis } from 'ioredis';

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export async function redisInfo(redis: Redis, section: string): Promise<Record<string, string>> {
  return parseInfo(await redis.info(section));
}

/** Calls per command so far (INFO commandstats). */
export async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redisInfo(redis, 'commandstats');
  const out = new Map<string, number>();
  for (const [key, value] of Object.entries(info)) {
    if (!key.startsWith('cmdstat_')) continue;
    const calls = /calls=(\d+)/.exec(value);
    if (calls) out.set(key.slice('cmdstat_'.length), Number(calls[1]));
  }
  return out;
}

/** Per-command increase between two commandstats readings, largest first. */
export function callsIncrease(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [cmd, n] of after) {
    const inc = n - (before.get(cmd) ?? 0);
    if (inc > 0) out.set(cmd, inc);
  }
  return new Map([...out].sort((a, b) => b[1] - a[1]));
}

export interface RedisMemory {
  readonly usedMemory: number;
  readonly usedMemoryPeak: number;
  readonly keys: number;
}

export async function redisMemory(redis: Redis): Promise<RedisMemory> {
  const mem = await redisInfo(redis, 'memory');
  const ks = await redisInfo(redis, 'keyspace');
  const keys = Object.values(ks).reduce((n, v) => n + Number(/keys=(\d+)/.exec(v)?.[1] ?? 0), 0);
  return {
    usedMemory: Number(mem.used_memory ?? 0),
    usedMemoryPeak: Number(mem.used_memory_peak ?? 0),
    keys,
  };
}

const BULL_SUFFIXES = new Set([
  'wait',
  'active',
  'delayed',
  'prioritized',
  'completed',
  'failed',
  'events',
  'meta',
  'id',
  'marker',
  'stalled-check',
  'stalled',
  'waiting-children',
  'paused',
  'pc',
  'de',
  'limiter',
  'repeat',
]);

/** A key's class, e.g. `world:Node`, `djob:*:log`, `djob-node-runs:<job>`, `reconcile-reaperpod:wait`. */
function keyClass(prefix: string, key: string): string {
  const rest = key.startsWith(`${prefix}:`) ? key.slice(prefix.length + 1) : key;
  const parts = rest.split(':');
  const [head = '', second = ''] = parts;
  if (head === 'world' || head === 'events' || head === 'watch' || head === 'count')
    return `${head}:${second}`;
  if (head === 'djob' || head === 'overlay-reset-requests') return `${head}:*:${parts[parts.length - 1]}`;
  if (parts.length === 1) return head;
  if (BULL_SUFFIXES.has(second)) return `${head}:${second}`;
  return parts.length > 2 ? `${head}:<job>:${parts[parts.length - 1]}` : `${head}:<job>`;
}

export interface KeyClassUsage {
  readonly cls: string;
  readonly keys: number;
  readonly bytes: number;
}

/** Memory by key class of every key under `prefix` (SCAN + MEMORY USAGE, pipelined). */
export async function memoryByClass(redis: Redis, prefix: string): Promise<KeyClassUsage[]> {
  const byClass = new Map<string, { keys: number; bytes: number }>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const tx = redis.pipeline();
    for (const k of keys) tx.call('MEMORY', 'USAGE', k, 'SAMPLES', '0');
    const sizes = (await tx.exec()) ?? [];
    keys.forEach((k, i) => {
      const cls = keyClass(prefix, k);
      const entry = byClass.get(cls) ?? { keys: 0, bytes: 0 };
      entry.keys++;
      entry.bytes += Number(sizes[i]?.[1] ?? 0);
      byClass.set(cls, entry);
    });
  } while (cursor !== '0');
  return [...byClass].map(([cls, v]) => ({ cls, ...v })).sort((a, b) => b.bytes - a.bytes);
}

/** Polls used_memory until it moves by < 2 % (or < 64 KiB) over three readings 1 s apart, or `timeoutMs`. */
export async function settledMemory(redis: Redis, timeoutMs = 30_000): Promise<RedisMemory> {
  const deadline = Date.now() + timeoutMs;
  const readings: RedisMemory[] = [];
  for (;;) {
    readings.push(await redisMemory(redis));
    const last3 = readings.slice(-3).map((r) => r.usedMemory);
    const spread = Math.max(...last3) - Math.min(...last3);
    if (last3.length === 3 && (spread < 0.02 * Math.max(...last3) || spread < 64 * 1024)) {
      return readings[readings.length - 1] as RedisMemory;
    }
    if (Date.now() > deadline) return readings[readings.length - 1] as RedisMemory;
    await new Promise((r) => setTimeout(r, 1000));
  }
}
