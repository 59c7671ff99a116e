// Bad input never stops the engine, and every bad object says what to fix. Two kinds of cases:
// - rejected by the API server (the CRD schema and its CEL rules): applied as a user does, with the
//   bundled kubectl, all in one batch (no apps needed); each error names the field;
// - accepted, then surfaced by the engine (a condition, the status message and a Warning Event
//   naming what is wrong), plus garbage written straight into the project's queues and into a
//   DaemonJob's inbox (rejected with one log line naming the job, never retried), and names at the
//   limits. One apps instance serves all of these; work created afterwards still completes.
import { randomBytes } from 'node:crypto';
import { isDnsLabel } from '@reaper-flow/domain';
import { type KubeClient, Resources } from '@reaper-flow/k8s';
import { addNode, removeNode } from '@reaper-flow/local-cluster';
import { createRedis, QueueNames, RedisKeys } from '@reaper-flow/queue';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { kubectl, testEnv, useTestNamespace, waitFor } from './harness/index';
import { type RunningApps, startApps } from './support/apps';

const suite = randomBytes(3).toString('hex');
const SUITE_LABEL = 'reaper.io/bad-input-suite';
const nodeA = `bi-${suite}-a`;
// Named as on EC2 (dots: a DNS subdomain, not a label), unique per run.
const ec2Node = `ip-10-0-${parseInt(suite.slice(0, 2), 16)}-${parseInt(suite.slice(2, 4), 16)}.ec2.internal`;
const onOurNodes = { [SUITE_LABEL]: suite };

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface Obj {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: {
    phase?: string;
    message?: string;
    readyNodes?: number;
    totalNodes?: number;
    conditions?: Condition[];
    nodeStatuses?: { nodeName: string; phase: string; reaperPodName?: string }[];
  };
}
interface EventObj {
  involvedObject: { kind: string; name: string };
  reason: string;
  message: string;
  type: string;
}
interface LogLine {
  level: string;
  msg: string;
  key?: string;
  jobId?: string;
  err?: { message?: string };
}

type Kind = 'ReaperPod' | 'ReaperDaemonJob' | 'ReaperOverlay';

/** One bad manifest and what the API server's answer must say about it. */
interface RejectedCase {
  readonly kind: Kind;
  readonly name: string;
  readonly spec?: Record<string, unknown>;
  /** Fragments of the error, the field path first. */
  readonly expect: readonly string[];
}

const sh = ['/bin/sh', '-c', 'true'];
const vol = (v: Record<string, unknown>) => ({ name: 'v', mountPath: '/data', ...v });

const REJECTED: readonly RejectedCase[] = [
  // volumes: mount paths that would hide what the command runs from, or are not paths at all.
  {
    kind: 'ReaperPod',
    name: 'mount-root',
    spec: { command: sh, volumes: [vol({ mountPath: '/', emptyDir: true })] },
    expect: ['spec.volumes[0].mountPath', 'must not be / or a system directory'],
  },
  {
    kind: 'ReaperPod',
    name: 'mount-root-slashes',
    spec: { command: sh, volumes: [vol({ mountPath: '//', emptyDir: true })] },
    expect: ['spec.volumes[0].mountPath', 'must not be / or a system directory'],
  },
  {
    kind: 'ReaperPod',
    name: 'mount-usr',
    spec: { command: sh, volumes: [vol({ mountPath: '/usr/', emptyDir: true })] },
    expect: ['spec.volumes[0].mountPath', 'must not be / or a system directory'],
  },
  {
    kind: 'ReaperPod',
    name: 'mount-proc',
    spec: { command: sh, volumes: [vol({ mountPath: '/proc', hostPath: '/tmp' })] },
    expect: ['spec.volumes[0].mountPath', 'must not be / or a system directory'],
  },
  {
    kind: 'ReaperPod',
    name: 'mount-relative',
    spec: { command: sh, volumes: [vol({ mountPath: 'data', emptyDir: true })] },
    expect: ['spec.volumes[0].mountPath', 'must be an absolute path'],
  },
  {
    kind: 'ReaperPod',
    name: 'mount-dotdot',
    spec: { command: sh, volumes: [vol({ mountPath: '/data/../etc', emptyDir: true })] },
    expect: ['spec.volumes[0].mountPath', "must not contain '.' or '..' segments"],
  },
  {
    kind: 'ReaperPod',
    name: 'volume-two-sources',
    spec: { command: sh, volumes: [vol({ emptyDir: true, configMap: 'cm' })] },
    expect: ['spec.volumes[0]', 'volume must set exactly one of configMap, secret, hostPath, emptyDir'],
  },
  {
    kind: 'ReaperPod',
    name: 'volume-no-source',
    spec: { command: sh, volumes: [vol({})] },
    expect: ['spec.volumes[0]', 'volume must set exactly one of configMap, secret, hostPath, emptyDir'],
  },
  {
    kind: 'ReaperPod',
    name: 'volume-duplicate-name',
    spec: {
      command: sh,
      volumes: [vol({ emptyDir: true }), vol({ mountPath: '/other', emptyDir: true })],
    },
    expect: ['spec.volumes[1]', 'Duplicate value'],
  },
  {
    kind: 'ReaperPod',
    // As a Pod spells it; here emptyDir is a boolean.
    name: 'volume-emptydir-object',
    spec: { command: sh, volumes: [vol({ emptyDir: {} })] },
    expect: ['spec.volumes[0].emptyDir', 'must be of type boolean'],
  },
  // env
  {
    kind: 'ReaperPod',
    name: 'env-value-and-valuefrom',
    spec: {
      command: sh,
      env: [{ name: 'A', value: 'x', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    },
    expect: ['spec.env[0]', 'env var must set exactly one of value, valueFrom'],
  },
  {
    kind: 'ReaperPod',
    name: 'env-neither',
    spec: { command: sh, env: [{ name: 'A' }] },
    expect: ['spec.env[0]', 'env var must set exactly one of value, valueFrom'],
  },
  {
    kind: 'ReaperPod',
    name: 'env-valuefrom-empty',
    spec: { command: sh, env: [{ name: 'A', valueFrom: {} }] },
    expect: ['spec.env[0].valueFrom', 'valueFrom must set exactly one of secretKeyRef, configMapKeyRef'],
  },
  {
    kind: 'ReaperPod',
    name: 'env-name-with-equals',
    spec: { command: sh, env: [{ name: 'A=B', value: 'x' }] },
    expect: ['spec.env[0].name', 'should match'],
  },
  // command, types, unknown fields, a missing spec
  {
    kind: 'ReaperPod',
    name: 'command-empty',
    spec: { command: [] },
    expect: ['spec.command', 'should have at least 1 items'],
  },
  {
    kind: 'ReaperPod',
    name: 'command-a-string',
    spec: { command: 'echo hi' },
    expect: ['spec.command', 'must be of type array'],
  },
  { kind: 'ReaperPod', name: 'no-spec', expect: ['spec', 'Required value'] },
  {
    kind: 'ReaperPod',
    name: 'run-as-negative',
    spec: { command: sh, runAsUser: -1 },
    expect: ['spec.runAsUser', 'should be greater than or equal to 0'],
  },
  {
    kind: 'ReaperPod',
    name: 'working-dir-relative',
    spec: { command: sh, workingDir: 'tmp' },
    expect: ['spec.workingDir', 'should match'],
  },
  {
    kind: 'ReaperPod',
    name: 'dns-mode-unknown',
    spec: { command: sh, dnsMode: 'cluster' },
    expect: ['spec.dnsMode', 'Unsupported value: "cluster"'],
  },
  {
    kind: 'ReaperPod',
    name: 'overlay-name-invalid',
    spec: { command: sh, overlayName: 'Not_A_Name' },
    expect: ['spec.overlayName', 'should match'],
  },
  {
    kind: 'ReaperPod',
    name: 'toleration-operator',
    spec: { command: sh, tolerations: [{ key: 'k', operator: 'Maybe' }] },
    expect: ['spec.tolerations[0].operator', 'Unsupported value: "Maybe"'],
  },
  {
    kind: 'ReaperPod',
    name: 'node-selector-key',
    spec: { command: sh, nodeSelector: { 'bad key!': 'x' } },
    expect: ['spec.nodeSelector', 'keys must be label keys'],
  },
  {
    kind: 'ReaperPod',
    name: 'node-selector-value',
    spec: { command: sh, nodeSelector: { role: 'a b' } },
    expect: ['spec.nodeSelector.role', 'should match'],
  },
  // DaemonJob enums and bounds
  {
    kind: 'ReaperDaemonJob',
    name: 'concurrency-unknown',
    spec: { command: sh, concurrencyPolicy: 'Sometimes' },
    expect: ['spec.concurrencyPolicy', 'Unsupported value: "Sometimes"'],
  },
  {
    kind: 'ReaperDaemonJob',
    name: 'trigger-unknown',
    spec: { command: sh, triggerOn: 'Weekly' },
    expect: ['spec.triggerOn', 'Unsupported value: "Weekly"'],
  },
  {
    kind: 'ReaperDaemonJob',
    name: 'retry-negative',
    spec: { command: sh, retryLimit: -1 },
    expect: ['spec.retryLimit', 'should be greater than or equal to 0'],
  },
  {
    kind: 'ReaperDaemonJob',
    name: 'retry-a-string',
    spec: { command: sh, retryLimit: 'three' },
    expect: ['spec.retryLimit', 'must be of type integer'],
  },
  {
    kind: 'ReaperDaemonJob',
    name: 'after-duplicate',
    spec: { command: sh, after: ['a', 'a'] },
    expect: ['spec.after[1]', 'Duplicate value'],
  },
  {
    kind: 'ReaperDaemonJob',
    name: 'after-invalid-name',
    spec: { command: sh, after: ['Not_A_Name'] },
    expect: ['spec.after[0]', 'should match'],
  },
  {
    kind: 'ReaperDaemonJob',
    name: 'djob-mount-root',
    spec: { command: sh, volumes: [vol({ mountPath: '/', hostPath: '/' })] },
    expect: ['spec.volumes[0].mountPath', 'must not be / or a system directory'],
  },
  // ReaperOverlay
  {
    kind: 'ReaperOverlay',
    name: 'reset-policy-unknown',
    spec: { resetPolicy: 'Always' },
    expect: ['spec.resetPolicy', 'Unsupported value: "Always"'],
  },
  {
    kind: 'ReaperOverlay',
    name: 'reset-generation-negative',
    spec: { resetGeneration: -1 },
    expect: ['spec.resetGeneration', 'should be greater than or equal to 0'],
  },
  {
    kind: 'ReaperOverlay',
    name: 'reset-generation-lowered',
    spec: { resetGeneration: 2 },
    expect: ['spec.resetGeneration', 'resetGeneration may not decrease'],
  },
];

const PLURAL: Record<Kind, string> = {
  ReaperPod: 'reaperpods',
  ReaperDaemonJob: 'reaperdaemonjobs',
  ReaperOverlay: 'reaperoverlays',
};

function manifest(kind: Kind, name: string, spec?: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'reaper.io/v1alpha1', kind, metadata: { name }, ...(spec ? { spec } : {}) };
}

const yamlStream = (docs: readonly Record<string, unknown>[]) =>
  docs.map((d) => `---\n${stringify(d)}`).join('');

describe('bad input: rejected by the API server, naming the field', () => {
  const t = useTestNamespace('bad-input-api');

  it(`kubectl apply refuses ${REJECTED.length + 1} bad manifests in one batch, each error naming its field`, {
    timeout: 60_000,
  }, async () => {
    const ns = t.namespace;
    // The lowered resetGeneration needs an overlay at 3 first (a transition rule compares to it).
    const created = await kubectl(['apply', '-n', ns, '-f', '-'], {
      input: yamlStream([manifest('ReaperOverlay', 'reset-generation-lowered', { resetGeneration: 3 })]),
    });
    expect(created.code, created.stderr).toBe(0);

    // A misspelled field is refused by strict field validation (kubectl's default).
    const typo = manifest('ReaperPod', 'misspelled-field', { comand: sh });
    const docs = [...REJECTED.map((c) => manifest(c.kind, c.name, c.spec)), typo];
    const applied = await kubectl(['apply', '-n', ns, '-f', '-'], { input: yamlStream(docs) });
    expect(applied.code).not.toBe(0);

    // kubectl reports each object's error on a line of its own, with every bad field of it:
    // `... <Kind>.reaper.io "<name>" is invalid: <field>: <what is wrong>`.
    const lines = applied.stderr.split('\n');
    const errorOf = (kind: Kind, name: string) => {
      const marker = `${kind}.reaper.io "${name}" is invalid: `;
      const line = lines.find((l) => l.includes(marker));
      return line?.slice(line.indexOf(marker) + marker.length);
    };
    for (const c of REJECTED) {
      const error = errorOf(c.kind, c.name);
      expect(error, `${c.kind}/${c.name} is refused; stderr:\n${applied.stderr}`).toBeDefined();
      for (const fragment of c.expect) expect(error, `${c.kind}/${c.name}`).toContain(fragment);
    }
    expect(applied.stderr).toContain('unknown field "spec.comand"');

    // Nothing was stored, and the overlay keeps its generation.
    for (const kind of ['ReaperPod', 'ReaperDaemonJob'] as const) {
      const listed = await kubectl(['get', PLURAL[kind], '-n', ns, '-o', 'name']);
      expect(listed.stdout.trim(), kind).toBe('');
    }
    const overlay = await t.client.get<Obj>(Resources.reaperOverlays, 'reset-generation-lowered', {
      namespace: ns,
    });
    expect(overlay?.spec?.resetGeneration).toBe(3);
    await t.client.delete(Resources.reaperOverlays, 'reset-generation-lowered', { namespace: ns });
  });
});

describe('bad input: accepted, then surfaced; garbage in the queues; names at the limits', () => {
  const t = useTestNamespace('bad-input-engine');
  const logs: LogLine[] = [];
  let apps: RunningApps;
  let client: KubeClient;
  let redis: Redis;
  const queues: Queue[] = [];

  beforeAll(async () => {
    const env = testEnv();
    client = t.client;
    for (const name of [nodeA, ec2Node]) await addNode(client, { name, labels: onOurNodes });
    apps = await startApps({
      kubeconfigPath: env.kubeconfigPath,
      redisUrl: env.redisUrl,
      prefix: t.queuePrefix,
      nodes: [nodeA],
      logSink: {
        write(line: string) {
          try {
            logs.push(JSON.parse(line) as LogLine);
          } catch {
            // not JSON: not ours
          }
        },
      },
    });
    redis = createRedis({ url: env.redisUrl }, 'producer');
  }, 120_000);

  afterAll(async () => {
    await apps?.stop();
    await Promise.all(queues.map((q) => q.close()));
    redis?.disconnect();
    for (const name of [nodeA, ec2Node]) await removeNode(client, name).catch(() => undefined);
  }, 60_000);

  const ns = () => t.namespace;
  const create = (kind: Kind, name: string, spec: Record<string, unknown>) =>
    client.create<Obj>(
      kind === 'ReaperPod'
        ? Resources.reaperPods
        : kind === 'ReaperDaemonJob'
          ? Resources.reaperDaemonJobs
          : Resources.reaperOverlays,
      manifest(kind, name, spec),
      { namespace: ns() },
    );
  const get = (kind: 'ReaperPod' | 'ReaperDaemonJob', name: string) =>
    client.get<Obj>(kind === 'ReaperPod' ? Resources.reaperPods : Resources.reaperDaemonJobs, name, {
      namespace: ns(),
    });
  const warning = async (kind: Kind, name: string, reason: string) => {
    const events = await client.list<EventObj>(Resources.events, { namespace: ns() });
    return events.items.find(
      (e) =>
        e.involvedObject.kind === kind &&
        e.involvedObject.name === name &&
        e.type === 'Warning' &&
        e.reason === reason,
    );
  };
  const conditionWith = (obj: Obj | undefined, reason: string) =>
    obj?.status?.conditions?.find((c) => c.reason === reason);
  const queue = (name: string) => {
    const q = new Queue(name, { connection: redis, prefix: t.queuePrefix });
    queues.push(q);
    return q;
  };
  const linesWith = (text: string) => logs.filter((l) => JSON.stringify(l).includes(text));

  it('surfaces what only the engine can see: dependency cycles, missing dependencies, a missing overlay, a Pod the API server refuses', {
    timeout: 60_000,
  }, async () => {
    await create('ReaperDaemonJob', 'self-loop', {
      command: sh,
      nodeSelector: onOurNodes,
      after: ['self-loop'],
    });
    await create('ReaperDaemonJob', 'cycle-a', { command: sh, nodeSelector: onOurNodes, after: ['cycle-b'] });
    await create('ReaperDaemonJob', 'cycle-b', { command: sh, nodeSelector: onOurNodes, after: ['cycle-a'] });
    await create('ReaperDaemonJob', 'needs-ghost', {
      command: sh,
      nodeSelector: onOurNodes,
      after: ['ghost-job'],
    });
    await create('ReaperPod', 'no-such-overlay', { command: sh, overlayName: 'ghost-overlay' });
    // Two volumes at one mountPath: valid one by one, refused by the API server as a Pod.
    await create('ReaperPod', 'same-mount-twice', {
      command: sh,
      volumes: [
        { name: 'a', mountPath: '/data', emptyDir: true },
        { name: 'b', mountPath: '/data', emptyDir: true },
      ],
    });

    const cases: { kind: Kind; name: string; reason: string; says: string }[] = [
      { kind: 'ReaperDaemonJob', name: 'self-loop', reason: 'DependencyCycle', says: 'self-loop' },
      { kind: 'ReaperDaemonJob', name: 'cycle-a', reason: 'DependencyCycle', says: 'cycle-b' },
      { kind: 'ReaperDaemonJob', name: 'cycle-b', reason: 'DependencyCycle', says: 'cycle-a' },
      { kind: 'ReaperDaemonJob', name: 'needs-ghost', reason: 'DependencyMissing', says: 'ghost-job' },
      { kind: 'ReaperPod', name: 'no-such-overlay', reason: 'OverlayNotFound', says: 'ghost-overlay' },
      {
        kind: 'ReaperPod',
        name: 'same-mount-twice',
        reason: 'PodRejected',
        says: 'volumeMounts[1].mountPath',
      },
    ];
    for (const c of cases) {
      const kind = c.kind === 'ReaperPod' ? 'ReaperPod' : 'ReaperDaemonJob';
      const obj = await waitFor(
        async () => {
          const o = await get(kind, c.name);
          return conditionWith(o, c.reason) ? o : undefined;
        },
        { description: `${c.kind}/${c.name} surfacing ${c.reason}` },
      );
      expect(obj.status?.phase, `${c.name} runs nothing`).toBe('Pending');
      expect(obj.status?.message ?? conditionWith(obj, c.reason)?.message, c.name).toContain(c.says);
      const event = await waitFor(() => warning(c.kind, c.name, c.reason), {
        description: `a Warning Event ${c.reason} on ${c.kind}/${c.name}`,
      });
      expect(event.message, c.name).toContain(c.says);
    }
    // None of them made a ReaperPod run anywhere.
    const djobPods = await client.list<Obj>(Resources.reaperPods, {
      namespace: ns(),
      labelSelector: 'reaper.io/daemon-job',
    });
    expect(djobPods.items.map((p) => p.metadata.name)).toEqual([]);
  });

  it('a 63-character DaemonJob on a node named ip-10-0-x-y.ec2.internal: valid ReaperPod name, labels and Pod; the run completes', {
    timeout: 60_000,
  }, async () => {
    const name = `limit-${suite}-${'x'.repeat(63)}`.slice(0, 63);
    expect(name).toHaveLength(63);
    await create('ReaperDaemonJob', name, {
      command: ['/bin/sh', '-c', 'hostname'],
      nodeSelector: { 'kubernetes.io/hostname': ec2Node },
    });
    const job = await waitFor(
      async () => {
        const j = await get('ReaperDaemonJob', name);
        return j?.status?.phase === 'Completed' ? j : undefined;
      },
      { description: `DaemonJob ${name} Completed on ${ec2Node}` },
    );
    expect(job.status?.readyNodes).toBe(1);
    const rpodName = job.status?.nodeStatuses?.[0]?.reaperPodName ?? '';
    expect(isDnsLabel(rpodName), `${rpodName} is a DNS label`).toBe(true);
    const rpod = await get('ReaperPod', rpodName);
    expect(rpod?.status?.phase).toBe('Succeeded');
    // The API server validated these when it stored them; they also still say which job and node.
    const labels = Object.values(rpod?.metadata.labels ?? {});
    expect(labels).toContain(name);
    expect(labels).toContain(ec2Node);
    const pod = await client.get<{ spec: { nodeName?: string } }>(Resources.pods, rpodName, {
      namespace: ns(),
    });
    expect(pod?.spec.nodeName).toBe(ec2Node);
  });

  it('a DaemonJob whose saved state is of a newer format is reported on it, naming the key, and not misread; deleting the keys as the message says runs it again', {
    timeout: 90_000,
  }, async () => {
    await create('ReaperDaemonJob', 'state-owner', {
      command: sh,
      nodeSelector: onOurNodes,
      triggerOn: 'Manual',
    });
    await waitFor(async () => (await get('ReaperDaemonJob', 'state-owner'))?.status?.phase === 'Completed', {
      description: 'state-owner Completed',
    });
    // As a newer release would leave it: its own format version.
    const keys = RedisKeys.djob(t.queuePrefix, ns(), 'state-owner');
    const saved = JSON.parse((await redis.get(keys.snapshot)) ?? '{}') as Record<string, unknown>;
    expect(saved.v).toBe(1);
    await redis.set(keys.snapshot, JSON.stringify({ ...saved, v: 99 }));
    const trigger = (value: string) =>
      client.patch(
        Resources.reaperDaemonJobs,
        'state-owner',
        'merge',
        { metadata: { annotations: { 'reaper.io/trigger': value } } },
        { namespace: ns() },
      );
    await trigger('while-unreadable');
    const event = await waitFor(
      async () => await warning('ReaperDaemonJob', 'state-owner', 'StateUnreadable'),
      {
        description: 'StateUnreadable Event on state-owner',
      },
    );
    expect(event.message).toContain(`DaemonJob snapshot ${keys.snapshot} has format version 99`);
    expect(event.message).toContain('Run that version on every scheduler');
    const stopped = await waitFor(
      async () =>
        logs.find((l) => l.msg?.startsWith('reconcile stopped') && JSON.stringify(l).includes(keys.snapshot)),
      { description: 'a reconcile stopped log line naming the snapshot key' },
    );
    expect(stopped.key).toBe(`ReaperDaemonJob/${ns()}/state-owner`);
    // Not misread: the trigger was not acted on.
    const held = (await get('ReaperDaemonJob', 'state-owner'))?.status as
      | { lastTriggerValue?: string }
      | undefined;
    expect(held?.lastTriggerValue).toBeUndefined();

    // The way out the message gives for a state that cannot be read: delete it; the job runs again.
    await redis.del(keys.snapshot, keys.version);
    await trigger('after-reset');
    await waitFor(
      async () => {
        const status = (await get('ReaperDaemonJob', 'state-owner'))?.status as
          | { phase?: string; lastTriggerValue?: string }
          | undefined;
        return status?.phase === 'Completed' && status.lastTriggerValue === 'after-reset';
      },
      { description: 'state-owner Completed after its state was rebuilt' },
    );
  });

  it('garbage in the reconcile, node-run and overlay-node queues and in an inbox is rejected once, naming the job; later work completes', {
    timeout: 90_000,
  }, async () => {
    // A DaemonJob to hold the garbage inbox entries; it must run again afterwards.
    await create('ReaperDaemonJob', 'inbox-owner', {
      command: sh,
      nodeSelector: onOurNodes,
      triggerOn: 'Manual',
    });
    await waitFor(async () => (await get('ReaperDaemonJob', 'inbox-owner'))?.status?.phase === 'Completed', {
      description: 'inbox-owner Completed',
    });

    // The reconcile queues: data that is no object key, a key of another kind, no data, a name
    // the queue does not know.
    const rpodQueue = queue(QueueNames.reconcile('ReaperPod'));
    const reconcileJobs = [
      await rpodQueue.add('reconcile', { key: 'not-a-key', seenAt: Date.now() }),
      await rpodQueue.add('reconcile', { key: `ReaperOverlay/${ns()}/x`, seenAt: Date.now() }),
      await rpodQueue.add('reconcile', 'just a string'),
      await queue(QueueNames.reconcile('ReaperDaemonJob')).add('explode', { key: 'x' }),
    ];
    // A node-run child with most fields missing, and an overlay-node job with a bad payload.
    const nodeRun = await queue(QueueNames.nodeRuns).add('node-run', { namespace: ns(), job: 'inbox-owner' });
    const overlayJob = await queue(QueueNames.overlayNode(nodeA)).add('overlay', { op: 'explode', name: 7 });
    // The inbox: an unknown command type, the right type with wrong fields, and text that is not JSON
    // (written raw: the store only appends commands).
    const inboxKey = RedisKeys.djob(t.queuePrefix, ns(), 'inbox-owner').inbox;
    const inboxIds: string[] = [];
    for (const text of [
      JSON.stringify({ type: 'Explode', runId: 'r' }),
      JSON.stringify({ type: 'FinishNodeRun', runId: 5, node: nodeA }),
      '{not json',
    ]) {
      inboxIds.push((await redis.xadd(inboxKey, '*', 'command', text)) ?? '');
    }
    await apps.scheduler.queues.ReaperDaemonJob.enqueue({
      kind: 'ReaperDaemonJob',
      namespace: ns(),
      name: 'inbox-owner',
    });

    // Other work, created after the garbage, still completes: a ReaperPod, a new DaemonJob, and a
    // new run of the job whose inbox held the garbage.
    await create('ReaperPod', 'after-garbage', { command: sh });
    await create('ReaperDaemonJob', 'after-garbage-job', { command: sh, nodeSelector: onOurNodes });
    await client.patch(
      Resources.reaperDaemonJobs,
      'inbox-owner',
      'merge',
      { metadata: { annotations: { 'reaper.io/trigger': 'after-garbage' } } },
      { namespace: ns() },
    );
    await waitFor(async () => (await get('ReaperPod', 'after-garbage'))?.status?.phase === 'Succeeded', {
      description: 'ReaperPod after-garbage Succeeded',
    });
    await waitFor(
      async () => (await get('ReaperDaemonJob', 'after-garbage-job'))?.status?.phase === 'Completed',
      {
        description: 'DaemonJob after-garbage-job Completed',
      },
    );
    await waitFor(
      async () => {
        const j = await get('ReaperDaemonJob', 'inbox-owner');
        return (
          j?.status?.phase === 'Completed' &&
          (j.status as { lastTriggerValue?: string }).lastTriggerValue === 'after-garbage'
        );
      },
      { description: 'inbox-owner Completed again after the Manual trigger' },
    );

    // Each garbage job failed once, for good, and said so on one log line naming it.
    for (const job of [...reconcileJobs, nodeRun, overlayJob]) {
      const q = queues.find((x) => x.name === job.queueName);
      await waitFor(async () => (await q?.getJobState(job.id ?? '')) === 'failed', {
        description: `job ${job.id} of ${job.queueName} failed`,
      });
      const stored = await q?.getJob(job.id ?? '');
      expect(stored?.attemptsMade, `${job.queueName} ${job.id} tried once`).toBe(1);
      expect(stored?.failedReason, `${job.queueName} ${job.id}`).toMatch(/invalid/);
    }
    // ...and no reconcile was requeued for them (the safety net for failed reconciles skips them).
    const delayed = await rpodQueue.getJobs(['delayed', 'waiting']);
    expect(delayed.map((j) => JSON.stringify(j.data)).filter((d) => d.includes('not-a-key'))).toEqual([]);
    for (const job of reconcileJobs) {
      expect(
        linesWith(`job ${job.id} of ${job.queueName} rejected`),
        `${job.queueName} ${job.id}`,
      ).toHaveLength(1);
    }
    expect(linesWith(`invalid node-run job ${nodeRun.id}:`)).toHaveLength(1);
    const overlayLines = logs.filter((l) => l.jobId === overlayJob.id && l.msg === 'overlay job failed');
    expect(overlayLines).toHaveLength(1);
    expect(overlayLines[0]?.err?.message).toContain('op:');
    // The inbox entries: one line each, on the job's key, saying what is wrong.
    const inboxLines = inboxIds.map((id) => linesWith(`inbox entry ${id} of ${inboxKey} refused`));
    for (const lines of inboxLines) {
      expect(lines).toHaveLength(1);
      expect(lines[0]?.key).toBe(`ReaperDaemonJob/${ns()}/inbox-owner`);
    }
    expect(inboxLines[0]?.[0]?.msg).toContain('type:');
    expect(inboxLines[1]?.[0]?.msg).toContain('runId:');
    expect(inboxLines[2]?.[0]?.msg).toContain('not JSON');
  });
});
