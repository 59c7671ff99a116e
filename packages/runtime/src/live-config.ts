import { type Config, RELOADABLE_KEYS } from './config-schema';

/** The keys of the configuration that change without a restart (RELOADABLE_KEYS), read-only. */
export type ReloadableConfig = Readonly<{
  retry: Readonly<Config['retry']>;
  status: Readonly<Pick<Config['status'], 'coalesceMs'>>;
  rollout: Readonly<Config['rollout']>;
  log: Readonly<Config['log']>;
}>;

/**
 * The configuration without its reloadable keys: what a component may read once, at start-up.
 * A component that takes this type cannot read `retry`, `status.coalesceMs`, `rollout.*` or
 * `log.level` from it (a type error); it reads them from a LiveConfig at use.
 */
export type StartupConfig = Readonly<
  Omit<Config, 'retry' | 'status' | 'rollout' | 'log'> & {
    status: Readonly<Omit<Config['status'], 'coalesceMs'>>;
  }
>;

/** The value of a dotted key (`status.coalesceMs`) in `config`. */
export function valueAt(config: Config, key: string): unknown {
  let v: unknown = config;
  for (const p of key.split('.')) v = (v as Record<string, unknown>)[p];
  return v;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** A frozen copy of the reloadable keys of `config`, built from RELOADABLE_KEYS (one list). */
function reloadableOf(config: Config): ReloadableConfig {
  const out: Record<string, unknown> = {};
  for (const key of RELOADABLE_KEYS) {
    const path = key.split('.');
    let node = out;
    for (const p of path.slice(0, -1)) {
      node[p] ??= {};
      node = node[p] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = structuredClone(valueAt(config, key));
  }
  return deepFreeze(out as ReloadableConfig);
}

/**
 * The reloadable part of a running app's configuration. A reader keeps the LiveConfig, never a
 * value read from it, and calls `current()` where it uses the value: a hot reload (`apply`)
 * replaces the whole snapshot, so a value kept from an earlier `current()` is the old one. Each
 * snapshot is frozen, so nobody can change the configuration in place either.
 */
export class LiveConfig {
  #current: ReloadableConfig;
  readonly #listeners = new Set<(current: ReloadableConfig) => void>();

  constructor(initial: Config) {
    this.#current = reloadableOf(initial);
  }

  /** The reloadable values as of now; read at each use, do not keep the result. */
  current(): ReloadableConfig {
    return this.#current;
  }

  /** Takes the reloadable keys of a newly loaded configuration; every other key is ignored. */
  apply(next: Config): void {
    this.#current = reloadableOf(next);
    for (const listener of this.#listeners) listener(this.#current);
  }

  /** Calls `listener` after every `apply` (e.g. to set a logger's level); returns the unsubscribe. */
  subscribe(listener: (current: ReloadableConfig) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
