import { readFileSync, statSync } from 'node:fs';
import { ReaperError } from '@reaper-flow/domain';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type Config, ConfigSchema, RELOADABLE_KEYS } from './config-schema';
import { valueAt } from './live-config';

export class ConfigError extends ReaperError {
  readonly code = 'config.Invalid';
  readonly terminal = true;
  constructor(
    readonly issues: readonly string[],
    source: string,
  ) {
    super(`invalid configuration (${source}):\n  - ${issues.join('\n  - ')}`);
  }
}

/** Shortcuts for the variables everyone sets; the general form is REAPER_FLOW__SECTION__KEY. */
const ENV_ALIASES: Record<string, string> = {
  REDIS_URL: 'redis.url',
  REDIS_PASSWORD: 'redis.password',
  REDIS_MODE: 'redis.mode',
  REDIS_SENTINELS: 'redis.sentinel.sentinels',
  REDIS_MASTER_NAME: 'redis.sentinel.masterName',
  REDIS_SENTINEL_PASSWORD: 'redis.sentinel.password',
  REDIS_CLUSTER_NODES: 'redis.cluster.nodes',
  REAPER_FLOW_PREFIX: 'redis.prefix',
  KUBECONFIG: 'kubernetes.kubeconfig',
  NODE_NAME: 'nodeAgent.nodeName',
  REAPER_STATE_DIR: 'nodeAgent.stateDir',
  LOG_LEVEL: 'log.level',
  METRICS_PORT: 'metrics.port',
  DASHBOARD_PORT: 'dashboard.port',
  DASHBOARD_PASSWORD: 'dashboard.password',
  DASHBOARD_TOKEN: 'dashboard.token',
};

type Shape = Record<string, z.ZodType>;

function objectShape(schema: z.ZodType): Shape | undefined {
  let s: z.ZodType = schema;
  for (;;) {
    if (s instanceof z.ZodObject) return s.shape as Shape;
    // Default, prefault and optional wrappers keep the wrapped schema in `innerType`.
    const inner = (s._zod.def as { innerType?: z.ZodType }).innerType;
    if (!inner) return undefined;
    s = inner;
  }
}

/** Maps `QUEUES__CONCURRENCY__NODERUNS` onto the schema's real key path (case-insensitive). */
function resolvePath(segments: readonly string[]): string[] | undefined {
  const path: string[] = [];
  let shape: Shape | undefined = objectShape(ConfigSchema);
  for (const seg of segments) {
    if (!shape) return undefined;
    const key = Object.keys(shape).find((k) => k.toLowerCase() === seg.toLowerCase().replace(/_/g, ''));
    if (!key) return undefined;
    path.push(key);
    shape = objectShape(shape[key] as z.ZodType);
  }
  return path;
}

function coerce(value: string): unknown {
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** Applies environment overrides; an unknown REAPER_FLOW__ variable is an error, not a silent no-op. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, issues: string[]): void {
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === '') continue;
    const alias = ENV_ALIASES[name];
    if (alias) {
      setPath(raw, alias.split('.'), coerce(value));
      continue;
    }
    if (!name.startsWith('REAPER_FLOW__')) continue;
    const path = resolvePath(name.slice('REAPER_FLOW__'.length).split('__'));
    if (!path) {
      issues.push(`${name}: no such configuration key (see config/reaper-flow.example.yaml)`);
      continue;
    }
    setPath(raw, path, coerce(value));
  }
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const key = issue.path.join('.') || '(root)';
  let value: unknown = raw;
  for (const p of issue.path) {
    // A list given as one string (an environment variable) is shown whole, not one character.
    if (typeof value !== 'object' || value === null) break;
    value = (value as Record<PropertyKey, unknown>)[p as PropertyKey];
  }
  if (issue.code === 'unrecognized_keys') {
    return `${key === '(root)' ? '' : `${key}: `}unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  }
  const shown = value === undefined ? 'missing' : JSON.stringify(value);
  let allowed = issue.message;
  if (issue.code === 'invalid_value')
    allowed = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return `${key}: got ${shown}; ${allowed}`;
}

export interface LoadConfigOptions {
  /** YAML file; default $REAPER_FLOW_CONFIG. Missing file path = defaults + environment. */
  readonly file?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

/** Reads the YAML file plus environment overrides and validates them; throws ConfigError naming each bad key. */
export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.REAPER_FLOW_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`cannot read ${file}: ${(err as Error).message}`], file);
    }
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError(['the file must hold a YAML mapping of sections (redis:, queues:, ...)'], file);
    }
    raw = (parsed ?? {}) as Record<string, unknown>;
  }
  const issues: string[] = [];
  applyEnv(raw, env, issues);
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) issues.push(...result.error.issues.map((i) => describeIssue(i, raw)));
  if (issues.length > 0 || !result.success) throw new ConfigError(issues, file ?? 'environment');
  return result.data;
}

/**
 * Watches the mounted config file and calls `onChange` with the new configuration when a
 * reloadable key changed (see RELOADABLE_KEYS; the app hands it to its LiveConfig); an invalid new
 * file is reported and ignored.
 * Checks the file's stat every `intervalMs` against the stat taken when the watch starts: a
 * ConfigMap mount updates by swapping a symlink, which fs.watch misses, and a baseline taken at
 * once (not on the first tick) cannot miss a change made right after the call.
 */
export function watchConfig(
  file: string,
  current: Config,
  onChange: (next: Config, changedKeys: string[]) => void,
  onError: (err: Error) => void,
  intervalMs = 2000,
): () => void {
  let last = current;
  const fingerprint = () => {
    try {
      const st = statSync(file);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  let seen = fingerprint();
  const timer = setInterval(() => {
    const now = fingerprint();
    if (now === seen) return;
    seen = now;
    try {
      const next = loadConfig({ file });
      const changed = RELOADABLE_KEYS.filter(
        (k) => JSON.stringify(valueAt(next, k)) !== JSON.stringify(valueAt(last, k)),
      );
      if (changed.length > 0) {
        last = next;
        onChange(next, changed);
      }
    } catch (err) {
      onError(err as Error);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
