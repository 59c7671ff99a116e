// reaper-flow's watcher and scheduler as child processes of the bench, configured through the
// environment like in production (REAPER_FLOW__SECTION__KEY=value), each with its own metrics port.
import { join } from 'node:path';
import { type Config, loadConfig } from '@reaper-flow/runtime';
import { ChildApp, freePort } from './child';
import { type PromSample, parseProm } from './prom';

/** Settings the bench always uses (comparable retries, small retention), before --set overrides. */
const BENCH_CONFIG: Readonly<Record<string, string>> = {
  REAPER_FLOW__DASHBOARD__ENABLED: 'false',
  REAPER_FLOW__RETRY__BASE_MS: '500',
  REAPER_FLOW__RETRY__JITTER: '0',
  REAPER_FLOW__QUEUES__RETENTION__REMOVE_ON_COMPLETE: '100',
  REAPER_FLOW__QUEUES__RETENTION__REMOVE_ON_FAIL: '100',
  REAPER_FLOW__QUEUES__RETENTION__EVENT_LOG_MAX_LEN: '1000',
};

export interface EngineOptions {
  readonly kubeconfigPath: string;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly leaseName: string;
  readonly resultsDir: string;
  /** Extra REAPER_FLOW__... variables (--set), applied last. */
  readonly overrides: Readonly<Record<string, string>>;
  /** Write V8 CPU profiles of both apps into this dir. */
  readonly cpuProfileDir?: string | undefined;
}

export type AppName = 'watcher' | 'scheduler';

export class Engine {
  private constructor(
    readonly config: Config,
    readonly env: Readonly<Record<string, string>>,
    readonly watcher: ChildApp,
    readonly scheduler: ChildApp,
  ) {}

  /** The configuration the apps run with (validated here first, so a bad --set fails fast). */
  static configFor(opts: EngineOptions): { config: Config; env: Record<string, string> } {
    const env: Record<string, string> = {
      KUBECONFIG: opts.kubeconfigPath,
      REDIS_URL: opts.redisUrl,
      REAPER_FLOW_PREFIX: opts.prefix,
      LOG_LEVEL: 'warn',
      REAPER_FLOW__WATCHER__LEASE_NAME: opts.leaseName,
      ...BENCH_CONFIG,
      ...opts.overrides,
    };
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        (e): e is [string, string] => e[1] !== undefined && !(e[0] in env) && e[0] !== 'METRICS_PORT',
      ),
    );
    return { config: loadConfig({ env: { ...inherited, ...env } }), env };
  }

  static async start(opts: EngineOptions): Promise<Engine> {
    const { config, env } = Engine.configFor(opts);
    const start = async (app: AppName) => {
      const port = await freePort();
      // One dir per app: node writes a profile per thread (the main thread and any worker), so a
      // fixed --cpu-prof-name would let one overwrite the other.
      const profile = opts.cpuProfileDir
        ? ['--cpu-prof', '--cpu-prof-dir', join(opts.cpuProfileDir, app)]
        : [];
      return ChildApp.start({
        name: app,
        run: { app },
        nodeFlags: profile,
        env: { ...process.env, ...env, METRICS_PORT: String(port) },
        logFile: join(opts.resultsDir, `${app}.log`),
        metricsPort: port,
      });
    };
    const watcher = await start('watcher');
    let scheduler: ChildApp | undefined;
    try {
      scheduler = await start('scheduler');
      await Promise.all([watcher.waitReady(120_000), scheduler.waitReady(120_000)]);
    } catch (err) {
      watcher.killNow();
      scheduler?.killNow();
      throw err;
    }
    return new Engine(config, env, watcher, scheduler);
  }

  app(name: AppName): ChildApp {
    return name === 'watcher' ? this.watcher : this.scheduler;
  }

  async scrape(name: AppName): Promise<PromSample[]> {
    const res = await this.app(name).http('/metrics');
    return parseProm(res.body);
  }

  async scrapeText(name: AppName): Promise<string> {
    return (await this.app(name).http('/metrics')).body;
  }

  /** SIGTERM both (scheduler first), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    await this.scheduler.stop(graceMs);
    await this.watcher.stop(graceMs);
  }

  killNow(): void {
    this.scheduler.killNow();
    this.watcher.killNow();
  }
}
