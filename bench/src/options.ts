import { parseArgs } from 'node:util';

type ScenarioName = 'handoff' | 'join' | 'retry' | 'fanout' | 'schedulers';
const ALL_SCENARIOS: readonly ScenarioName[] = ['handoff', 'join', 'retry', 'fanout', 'schedulers'];

export interface Options {
  readonly mode: 'full' | 'quick' | 'custom';
  readonly scenarios: readonly ScenarioName[];
  readonly handoff: { nodes: number; reps: number };
  readonly join: { joins: number; reboots: number };
  readonly retry: { nodes: number; failuresPerNode: number };
  readonly fanoutSizes: readonly number[];
  /** The fan-out size run again with two scheduler replicas ('schedulers'): 1000 when a fan-out size, else the smallest. */
  readonly compareSize: number;
  /** Keep the stand-in kubelet's pod sandbox (it runs as root); default: plain processes. */
  readonly sandboxedPods: boolean;
  /** Write V8 CPU profiles of the watcher and scheduler and summarise them. */
  readonly profile: boolean;
  readonly out: string | undefined;
  /** Extra engine configuration, REAPER_FLOW__SECTION__KEY=value. */
  readonly set: Readonly<Record<string, string>>;
  /** Extra node flags for the watcher and the scheduler (e.g. V8 heap settings to try). */
  readonly appNodeFlags: readonly string[];
}

export const USAGE = `npm run bench [-- options]

  --quick                 small sizes (3 handoff repetitions on 3 nodes, 5 joins, fan-out 20 nodes, 1 retry)
  --scenarios LIST        comma-separated subset of ${ALL_SCENARIOS.join(',')} (default: all);
                          schedulers: the fan-out at 1000 nodes (or the smallest size) again with two
                          scheduler replicas, against the one-replica run
  --fanout-sizes LIST     e.g. 50,200,1000,5000 (default; quick: 20)
  --handoff-reps N        repetitions of the a -> b -> c chain (default 20)
  --joins N               node joins (default 50)
  --sandboxed-pods        run pods in the stand-in kubelet's mount/UTS sandbox (default: plain processes,
                          the kubelet runs as nobody, so the sandbox's CPU does not compete with the engine)
  --profile               run the watcher and scheduler with --cpu-prof and summarise the profiles
  --out DIR               results directory (default bench/results/<timestamp>)
  --set KEY=VALUE         engine configuration for this run, e.g. --set REAPER_FLOW__ROLLOUT__POD_CREATES_PER_SECOND=1000
  --app-node-flags=FLAGS  extra node flags for the watcher and scheduler, space-separated,
                          e.g. --app-node-flags="--max-semi-space-size=2"
  -h, --help

Uses KUBECONFIG + REDIS_URL when both are set; otherwise starts its own local cluster.`;

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got "${value}"`);
  return n;
}

export function parseOptions(argv: readonly string[]): Options | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      'fanout-sizes': { type: 'string' },
      'handoff-reps': { type: 'string' },
      joins: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'sandboxed-pods': { type: 'boolean', default: false },
      out: { type: 'string' },
      set: { type: 'string', multiple: true },
      'app-node-flags': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick ?? false;
  const scenarios = values.scenarios ? list(values.scenarios) : [...ALL_SCENARIOS];
  for (const s of scenarios) {
    if (!ALL_SCENARIOS.includes(s as ScenarioName)) {
      throw new Error(`--scenarios: unknown scenario "${s}" (known: ${ALL_SCENARIOS.join(', ')})`);
    }
  }
  if (scenarios.includes('schedulers') && !scenarios.includes('fanout'))
    throw new Error('--scenarios: "schedulers" compares against a fan-out size; add "fanout"');
  const set: Record<string, string> = {};
  for (const kv of values.set ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0 || !kv.startsWith('REAPER_FLOW__'))
      throw new Error(`--set ${kv}: expected REAPER_FLOW__SECTION__KEY=value`);
    set[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const custom =
    values.scenarios !== undefined ||
    values['fanout-sizes'] !== undefined ||
    values['handoff-reps'] !== undefined ||
    values.joins !== undefined ||
    (values.set?.length ?? 0) > 0 ||
    values['app-node-flags'] !== undefined;
  const fanoutSizes = values['fanout-sizes']
    ? list(values['fanout-sizes']).map((s) => positiveInt('--fanout-sizes', s))
    : quick
      ? [20]
      : [50, 200, 1000, 5000];
  const joins = values.joins ? positiveInt('--joins', values.joins) : quick ? 5 : 50;
  return {
    mode: custom ? 'custom' : quick ? 'quick' : 'full',
    scenarios: scenarios as ScenarioName[],
    handoff: {
      nodes: quick ? 3 : 10,
      reps: values['handoff-reps'] ? positiveInt('--handoff-reps', values['handoff-reps']) : quick ? 3 : 20,
    },
    join: { joins, reboots: Math.min(joins, quick ? 1 : 10) },
    retry: quick ? { nodes: 1, failuresPerNode: 1 } : { nodes: 10, failuresPerNode: 2 },
    fanoutSizes,
    compareSize: fanoutSizes.includes(1000) ? 1000 : Math.min(...fanoutSizes),
    sandboxedPods: values['sandboxed-pods'] ?? false,
    profile: values.profile ?? false,
    out: values.out,
    set,
    appNodeFlags: (values['app-node-flags'] ?? '').split(/\s+/).filter(Boolean),
  };
}
