// `npm run bench`: latency, makespan, API and Redis economy and resources of reaper-flow on a local
// cluster with simulated nodes. Writes bench/results/<timestamp>/{results.json, summary.md,
// latency.png}. See bench/README.md.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Resources } from '@reaper-flow/k8s';
import { REPO_ROOT, removeNode } from '@reaper-flow/local-cluster';
import { Engine } from './engine';
import { type BenchEnv, createNamespace, startEnv } from './env';
import { Meter, type Snapshot } from './meter';
import { LABEL_RUN, pool, quiesce } from './ops';
import { parseOptions, USAGE } from './options';
import { writePlot } from './plot';
import { MiB } from './proc';
import { renderProfile, summarizeProfile } from './profile';
import { progress } from './progress';
import {
  type DjobView,
  type NodeView,
  type PodView,
  projectDjob,
  projectNode,
  projectPod,
  projectRpod,
  type RpodView,
  Watched,
} from './recorder';
import { memoryByClass, redisMemory, settledMemory } from './redis-stats';
import { renderSummary } from './report';
import { collectHeader, type Results } from './results';
import { addFanoutNodes, fanoutNodes, fanoutNodesInWorld, runFanout } from './scenarios/fanout';
import { runFloor } from './scenarios/floor';
import { runHandoff } from './scenarios/handoff';
import { runNodeJoin } from './scenarios/node-join';
import { runRetry } from './scenarios/retry';

const t0 = performance.now();
const parsed = (() => {
  try {
    return parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
})();
if (parsed === 'help') {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const opts = parsed;

const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
const resultsDir = resolve(opts.out ?? join(REPO_ROOT, 'bench/results', stamp));
const profileDir = join(resultsDir, 'profile');
await mkdir(resultsDir, { recursive: true });
progress.setLogFile(join(resultsDir, 'progress.log'));

const id = randomBytes(2).toString('hex');
const ns = `bench-${id}`;
const floorNs = `bench-floor-${id}`;
const prefix = `{rf-bench-${id}}`;

let env: BenchEnv | undefined;
let engine: Engine | undefined;
const watches: Watched<unknown>[] = [];

// Ctrl-C / SIGTERM: stop everything started (children, watches, cluster), then exit 130. Registered
// before the cluster starts, so this runs before the cluster's own handler (which kills its daemons
// at once and re-raises the signal, which lands here again and is ignored).
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  progress.step(`${signal}: stopping the apps, the kubelet and the cluster`);
  setTimeout(() => {
    engine?.killNow();
    env?.killNow();
    process.exit(130);
  }, 30_000).unref();
  void (async () => {
    await engine?.stop(3000).catch(() => undefined);
    await Promise.allSettled(watches.map((w) => w.stop()));
    await env?.stop().catch(() => undefined);
  })().finally(() => process.exit(130));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const warnings: string[] = [];

/** Waits until no deleted job's history log is left under `prefix` (they expire), or `timeoutMs`. */
async function deletedJobLogsExpired(
  redis: BenchEnv['redis'],
  prefix: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const logs: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:djob:*:log`, 'COUNT', 1000);
      cursor = next;
      logs.push(...keys);
    } while (cursor !== '0');
    if (logs.length === 0) return;
    if (Date.now() > deadline) {
      warnings.push(
        `retention: ${logs.length} deleted jobs' history logs had not expired after ${timeoutMs} ms`,
      );
      return;
    }
    progress.step(`${logs.length} deleted jobs' history logs still expiring`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
let failed = false;

async function main(): Promise<void> {
  progress.begin(
    'setup',
    `results in ${resultsDir}; mode ${opts.mode}; scenarios ${opts.scenarios.join(', ')}`,
  );
  const loadAtStart = loadavg();
  const meter = new Meter(t0);
  env = await startEnv({ resultsDir, maxSockets: 64, plainPods: !opts.sandboxedPods });
  meter.addProcesses(env.clusterProcesses);
  if (env.kubelet) meter.addApp(env.kubelet);
  const { client, redis } = env;
  const engineOpts = {
    kubeconfigPath: env.kubeconfigPath,
    redisUrl: env.redisUrl,
    prefix,
    leaseName: `rf-bench-${id}`,
    resultsDir,
    overrides: opts.set,
    cpuProfileDir: opts.profile ? profileDir : undefined,
    nodeFlags: opts.appNodeFlags,
  };
  const { config, env: engineEnv } = Engine.configFor(engineOpts);
  const results: Results = {
    header: await collectHeader(client, redis, opts.mode, env.external, loadAtStart, env.pods),
    options: { ...opts },
    engineEnv,
    effective: {
      maxSockets: config.kubernetes.maxSockets,
      nodeRunConcurrency: config.queues.concurrency.nodeRuns,
      podCreatesPerSecond: config.rollout.podCreatesPerSecond,
      coalesceMs: config.status.coalesceMs,
      retry: config.retry,
    },
    resources: { apps: {}, cpuByScenario: {}, rssTimeline: meter.timeline },
    redisMemory: {},
    warnings,
    durationS: 0,
  };
  const h = results.header;
  progress.step(
    `${h.cores} cores, ${h.memoryGiB.toFixed(0)} GiB, Node ${h.node}, Kubernetes ${h.kubernetes}, Redis ${h.redis}, commit ${h.gitCommit.slice(0, 10)}; load ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`,
  );

  /** Runs one scenario, recording its CPU per process; a failure is a warning, the run goes on. */
  const scenario = async <T>(name: string, work: () => Promise<T>): Promise<T | undefined> => {
    const before: Snapshot = meter.snapshot();
    try {
      return await work();
    } catch (err) {
      failed = true;
      const message = `${name} failed: ${(err as Error).message}`;
      warnings.push(message);
      progress.step(`ERROR ${message}`);
      return undefined;
    } finally {
      results.resources.cpuByScenario[name] = Meter.cpu(before, meter.snapshot());
    }
  };

  // The fan-out pool is made before the engine starts: the like-for-like floor runs its Pods on it
  // (the same nodes and kubelet as the engine's fan-out) while nothing of reaper-flow reacts.
  let poolReady = false;
  if (opts.scenarios.includes('fanout')) {
    poolReady =
      (await scenario('fan-out nodes', async () => {
        await addFanoutNodes({ id, client }, opts.fanoutSizes);
        return true;
      })) ?? false;
    if (poolReady) {
      await createNamespace(client, floorNs);
      results.floor = await scenario('api-floor', () =>
        runFloor({
          kubeconfigPath: env?.kubeconfigPath ?? '',
          admin: client,
          namespace: floorNs,
          sizes: opts.fanoutSizes,
          nodesFor: (size) => fanoutNodes({ id }, size),
          concurrency: config.queues.concurrency.nodeRuns,
          maxSockets: config.kubernetes.maxSockets,
        }),
      );
      await client.delete(Resources.namespaces, floorNs);
    }
  }

  progress.begin('setup', 'starting the watches, the watcher and the scheduler');
  await createNamespace(client, ns);
  const log = (m: string) => progress.step(m);
  const rpods = new Watched<RpodView>(client, Resources.reaperPods, projectRpod, { namespace: ns, log });
  const djobs = new Watched<DjobView>(client, Resources.reaperDaemonJobs, projectDjob, {
    namespace: ns,
    log,
  });
  const nodes = new Watched<NodeView>(client, Resources.nodes, projectNode, {
    labelSelector: `${LABEL_RUN}=${id}`,
    log,
  });
  const pods = new Watched<PodView>(client, Resources.pods, projectPod, {
    namespace: ns,
    labelSelector: 'app.kubernetes.io/managed-by=reaper-flow',
    log,
  });
  watches.push(rpods, djobs, nodes, pods);
  await Promise.all([rpods.start(), djobs.start(), nodes.start(), pods.start()]);
  engine = await progress.during('engine start', Engine.start(engineOpts));
  meter.addApp(engine.watcher);
  meter.addApp(engine.scheduler);
  meter.startSampling();
  progress.step(`watcher pid ${engine.watcher.pid}, scheduler pid ${engine.scheduler.pid}: ready`);
  await quiesce(redis, prefix);
  results.redisMemory.start = await settledMemory(redis, 10_000);
  results.redisMemory.byClassAtStart = await memoryByClass(redis, prefix);

  // A repetition that fails is a warning (and a failed run), the scenario goes on with the rest.
  const warn = (message: string) => {
    failed = true;
    warnings.push(message);
    progress.step(`ERROR ${message}`);
  };
  const ctx = { id, ns, client, redis, engine, rpods, djobs, nodes, pods, warn };
  if (opts.scenarios.includes('handoff'))
    results.handoff = await scenario('handoff', () => runHandoff(ctx, opts.handoff));
  if (opts.scenarios.includes('join'))
    results.nodeJoin = await scenario('node-join', () => runNodeJoin(ctx, opts.join));
  if (opts.scenarios.includes('retry'))
    results.retry = await scenario('retry', () => runRetry(ctx, opts.retry));
  if (opts.scenarios.includes('fanout') && poolReady) {
    const inWorld = await scenario('fan-out nodes in the world', async () => {
      await fanoutNodesInWorld(ctx, opts.fanoutSizes);
      return true;
    });
    if (inWorld) {
      results.fanout = [];
      for (const size of [...opts.fanoutSizes].sort((a, b) => a - b)) {
        const r = await scenario(`fan-out ${size}`, () => runFanout(ctx, meter, size));
        if (r) results.fanout.push(r);
        if (r && !r.drained)
          warnings.push(`fan-out ${size}: the engine's queues had not drained when counting ended`);
      }
      // The same fan-out with a second scheduler replica taking jobs from the same queues.
      const one = results.fanout.find((f) => f.nodes === opts.compareSize);
      if (opts.scenarios.includes('schedulers') && one) {
        const size = opts.compareSize;
        const two = await scenario(`fan-out ${size}, 2 schedulers`, async () => {
          const second = await ctx.engine.addScheduler();
          meter.addApp(second);
          progress.step(`second scheduler pid ${second.pid}: ready`);
          try {
            return await runFanout(ctx, meter, size, { schedulers: 2, job: `fan-${size}-x2` });
          } finally {
            await ctx.engine.removeExtraSchedulers();
          }
        });
        if (two) results.schedulers = { one, two };
      }
    }
  }

  await scenario('retention', async () => {
    progress.begin('retention', 'jobs deleted; waiting for the engine to go idle and Redis to settle');
    await quiesce(redis, prefix, 120_000);
    await deletedJobLogsExpired(redis, prefix, config.queues.retention.deletedJobLogSeconds * 1000 + 30_000);
    results.redisMemory.afterScenarios = await settledMemory(redis);
    progress.step(
      `Redis used_memory ${((results.redisMemory.afterScenarios.usedMemory ?? 0) / MiB).toFixed(1)} MiB (start ${((results.redisMemory.start?.usedMemory ?? 0) / MiB).toFixed(1)} MiB); deleting the bench's nodes`,
    );
    const names = [...nodes.live()].map((n) => n.name);
    await pool(names, 16, async (n) => {
      await removeNode(client, n);
    });
    await quiesce(redis, prefix, 120_000);
    results.redisMemory.afterNodesDeleted = await settledMemory(redis);
    results.redisMemory.byClassAtEnd = await memoryByClass(redis, prefix);
    progress.step(
      `${names.length} nodes deleted; Redis used_memory ${(results.redisMemory.afterNodesDeleted.usedMemory / MiB).toFixed(1)} MiB`,
    );
  });

  // Final readings while the apps still run, then stop them (a profile is written on exit).
  progress.begin('finish', 'stopping the apps');
  for (const app of ['watcher', 'scheduler'] as const) {
    await writeFile(join(resultsDir, `${app}.metrics.txt`), await engine.scrapeText(app)).catch(
      () => undefined,
    );
  }
  const final = meter.snapshot();
  meter.stopSampling();
  await engine.stop(opts.profile ? 60_000 : 20_000);
  for (const [name, s] of final) {
    results.resources.apps[name] = { peakRssMiB: s.peakRssBytes / MiB, cpuSeconds: s.cpuSeconds };
  }
  if (opts.profile) {
    results.profile = [];
    for (const app of ['scheduler', 'watcher']) {
      const dir = join(profileDir, app);
      const files = (await readdir(dir).catch(() => [] as string[])).filter((x) => x.endsWith('.cpuprofile'));
      for (const f of files) {
        const s = await summarizeProfile(join(dir, f));
        const summary = renderProfile(s);
        await writeFile(join(dir, `${f}.md`), `${summary}\n`);
        // A near-idle thread (a worker besides the main one) is left out: only busy threads are reported.
        if (s.busyMs > 0.05 * s.totalMs || files.length === 1) {
          results.profile.push({ file: `profile/${app}/${f}`, summary });
        }
      }
    }
    if (!results.profile.length)
      warnings.push('--profile: no .cpuprofile was written (did an app get SIGKILLed?)');
  }
  results.redisMemory.afterNodesDeleted ??= await redisMemory(redis).catch(() => undefined);
  results.durationS = (performance.now() - t0) / 1000;

  await writePlot(results, join(resultsDir, 'latency.svg'), join(resultsDir, 'latency.png')).catch(
    (err: Error) => warnings.push(`plot: ${err.message}`),
  );
  await writeFile(join(resultsDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  const summary = renderSummary(results);
  await writeFile(join(resultsDir, 'summary.md'), summary);
  const targets = summary.slice(
    summary.indexOf('## Targets'),
    summary.indexOf('\n## ', summary.indexOf('## Targets') + 5),
  );
  process.stdout.write(`\n${targets}\n`);
  progress.step(`wrote ${join(resultsDir, 'summary.md')}, results.json, latency.png`);
}

try {
  await main();
} catch (err) {
  failed = true;
  progress.step(`ERROR ${(err as Error).stack ?? err}`);
} finally {
  if (!interrupted) {
    progress.begin('cleanup', 'stopping everything');
    await engine?.stop(5000).catch(() => undefined);
    await Promise.allSettled(watches.map((w) => w.stop()));
    if (env?.external) {
      const client = env.client;
      const left = await client
        .list<{ metadata: { name: string } }>(Resources.nodes, { labelSelector: `${LABEL_RUN}=${id}` })
        .catch(() => ({ items: [] }));
      await pool(left.items, 16, async (n) => {
        await removeNode(client, n.metadata.name).catch(() => undefined);
      });
      await client.delete(Resources.namespaces, ns).catch(() => undefined);
      await env.client.delete(Resources.namespaces, floorNs).catch(() => undefined);
    }
    await env?.stop().catch((e: Error) => progress.step(`cleanup: ${e.message}`));
    progress.step(failed ? 'done, with errors (see above)' : 'done');
    process.exit(failed ? 1 : 0);
  }
}
