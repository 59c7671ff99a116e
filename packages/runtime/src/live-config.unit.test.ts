import { describe, expect, it } from 'vitest';
import { loadConfig } from './config';
import { RELOADABLE_KEYS } from './config-schema';
import { LiveConfig, type ReloadableConfig, type StartupConfig, valueAt } from './live-config';

/** A reader as the scheduler's components are written: it keeps the LiveConfig, not a value. */
class RetryPlanner {
  constructor(private readonly live: LiveConfig) {}
  firstDelayMs(): number {
    return this.live.current().retry.baseMs;
  }
}

describe('LiveConfig', () => {
  it('a reader that holds the live object sees the value of a reload', () => {
    const live = new LiveConfig(loadConfig({ env: {} }));
    const planner = new RetryPlanner(live);
    expect(planner.firstDelayMs()).toBe(10_000);

    live.apply(loadConfig({ env: { REAPER_FLOW__RETRY__BASEMS: '250' } }));

    expect(planner.firstDelayMs()).toBe(250);
  });

  it('holds exactly the reloadable keys, frozen, so nothing changes them in place', () => {
    const config = loadConfig({ env: { REAPER_FLOW__ROLLOUT__MAXNODESINFLIGHT: '3' } });
    const current = new LiveConfig(config).current();
    for (const key of RELOADABLE_KEYS)
      expect(valueAt(current as never, key), key).toEqual(valueAt(config, key));
    expect(Object.keys(current).sort()).toEqual(['log', 'retry', 'rollout', 'status']);
    expect(Object.keys(current.status)).toEqual(['coalesceMs']);
    expect(() => {
      (current.retry as { baseMs: number }).baseMs = 1;
    }).toThrow(TypeError);
    // A copy: the loaded configuration is not shared with the live snapshot.
    expect(current.retry).not.toBe(config.retry);
  });

  it('tells subscribers after each reload, until they unsubscribe', () => {
    const live = new LiveConfig(loadConfig({ env: {} }));
    const levels: string[] = [];
    const unsubscribe = live.subscribe((c: ReloadableConfig) => levels.push(c.log.level));
    live.apply(loadConfig({ env: { LOG_LEVEL: 'debug' } }));
    unsubscribe();
    live.apply(loadConfig({ env: { LOG_LEVEL: 'warn' } }));
    expect(levels).toEqual(['debug']);
    expect(live.current().log.level).toBe('warn');
  });

  it('the start-up view has no reloadable key to read once and keep', () => {
    const startup: StartupConfig = loadConfig({ env: {} });
    // @ts-expect-error retry is reloadable: read it from a LiveConfig at use
    expect(startup.retry).toBeDefined();
    // @ts-expect-error status.coalesceMs is reloadable
    expect(startup.status.coalesceMs).toBe(1000);
    expect(startup.status.maxNodeStatuses).toBe(100);
  });
});
