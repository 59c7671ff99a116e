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
  // A deleted job's history (`kubectl reaper history`, a day by default) expires within the run, so
  // the memory "after retention" is what retention leaves, not the history of every deleted job.
  REAPER_FLOW__QUEUES__RETENTION__DELETED_JOB_LOG_SECONDS: '20',
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
  /** Extra node flags for both apps (--app-node-flags). */
  readonly nodeFlags?: readonly string[];
}

export type AppName = 'watcher' | 'scheduler';

export class Engine {
  private readonly extraSchedulers: ChildApp[] = [];

  private constructor(
    private readonly opts: EngineOptions,
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
    const watcher = await Engine.startApp(opts, env, 'watcher', 'watcher');
    let scheduler: ChildApp | undefined;
    try {
      scheduler = await Engine.startApp(opts, env, 'scheduler', 'scheduler');
      await Promise.all([watcher.waitReady(120_000), scheduler.waitReady(120_000)]);
    } catch (err) {
      watcher.killNow();
      scheduler?.killNow();
      throw err;
    }
    return new Engine(opts, config, env, watcher, scheduler);
  }

  private static async startApp(
    opts: EngineOptions,
    env: Readonly<Record<string, string>>,
    app: AppName,
    name: string,
  ): Promise<ChildApp> {
    const port = await freePort();
    // One dir per process: node writes a profile per thread (the main thread and any worker), so a
    // fixed --cpu-prof-name would let one overwrite the other.
    const profile = opts.cpuProfileDir
      ? ['--cpu-prof', '--cpu-prof-dir', join(opts.cpuProfileDir, name)]
      : [];
    return ChildApp.start({
      name,
      run: { app },
      nodeFlags: [...(opts.nodeFlags ?? []), ...profile],
      env: { ...process.env, ...env, METRICS_PORT: String(port) },
      logFile: join(opts.resultsDir, `${name}.log`),
      metricsPort: port,
    });
  }

  /**
   * Starts one more scheduler replica (`scheduler-2`, ...), as `replicas: 2` of the chart does: it
   * takes jobs from the same queues. Its counters are added to the first one's in `scrape`.
   */
  async addScheduler(): Promise<ChildApp> {
    const name = `scheduler-${this.extraSchedulers.length + 2}`;
    const app = await Engine.startApp(this.opts, this.env, 'scheduler', name);
    try {
      await app.waitReady(120_000);
    } catch (err) {
      app.killNow();
      throw err;
    }
    this.extraSchedulers.push(app);
    return app;
  }

  /** Stops the replicas `addScheduler` started (SIGTERM, SIGKILL after `graceMs`). */
  async removeExtraSchedulers(graceMs = 20_000): Promise<void> {
    const extra = this.extraSchedulers.splice(0);
    await Promise.all(extra.map((a) => a.stop(graceMs)));
  }

  app(name: AppName): ChildApp {
    return name === 'watcher' ? this.watcher : this.scheduler;
  }

  /** The app's samples; for the scheduler, every replica's (counters summed by label in the readers). */
  async scrape(name: AppName): Promise<PromSample[]> {
    const apps = name === 'scheduler' ? [this.scheduler, ...this.extraSchedulers] : [this.watcher];
    const bodies = await Promise.all(apps.map((a) => a.http('/metrics')));
    return bodies.flatMap((res) => parseProm(res.body));
  }

  async scrapeText(name: AppName): Promise<string> {
    return (await this.app(name).http('/metrics')).body;
  }

  /** SIGTERM both (scheduler first), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    await this.removeExtraSchedulers(graceMs);
    await this.scheduler.stop(graceMs);
    await this.watcher.stop(graceMs);
  }

  killNow(): void {
    for (const a of this.extraSchedulers) a.killNow();
    this.scheduler.killNow();
    this.watcher.killNow();
  }
}
