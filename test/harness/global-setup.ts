// vitest globalSetup of the `int` project: one real control plane + Redis for the whole run.
// - KUBECONFIG and REDIS_URL both set: use that cluster (e.g. from `npm run cluster -- up`) and run
//   the stand-in kubelet here, unless STAND_IN_KUBELET=external or one already serves the cluster.
// - otherwise: start a local cluster (no nodes; tests add their own) in a temp state dir, attached to
//   this process, with the stand-in kubelet.
// Then apply infra/crds/*.yaml and wait until they are Established.
// First of all the apps are built if their bundles are stale (`npm test` has just built them): the
// tests start dist/<app>/main.js, what ships, so a test run after a source edit must not run old code.
import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeClient } from '@reaper-flow/k8s';
import {
  applyCrds,
  defaultStateDir,
  ensureBinaries,
  ensureRuntimeClass,
  KubeletConflictError,
  kubeletTlsIn,
  type LocalCluster,
  REPO_ROOT,
  readState,
  removeDir,
  StandInKubelet,
  startLocalCluster,
  stateLayout,
  stderrLogger,
} from '@reaper-flow/local-cluster';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    redisUrl: string;
    binDir: string;
    /** State dir of the stand-in kubelet serving the cluster ('' when unknown): node roots and pod logs. */
    kubeletStateDir: string;
  }
}

const log = stderrLogger('test-harness');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/build-apps.mjs'), '--if-stale'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let cluster: LocalCluster | undefined;
  let kubelet: StandInKubelet | undefined;
  let tempDir: string | undefined;
  let kubeconfigPath: string;
  let redisUrl: string;
  let binDir: string;
  let kubeletStateDir = '';

  if (process.env.KUBECONFIG && process.env.REDIS_URL) {
    kubeconfigPath = resolve(process.env.KUBECONFIG);
    redisUrl = process.env.REDIS_URL;
    binDir = await ensureBinaries();
    log(`using the cluster of KUBECONFIG=${kubeconfigPath} and REDIS_URL=${redisUrl}`);
  } else {
    tempDir = await mkdtemp(join(tmpdir(), 'reaper-flow-test-'));
    cluster = await startLocalCluster({ stateDir: tempDir, nodes: 0, withKubelet: true, log });
    ({ kubeconfigPath, redisUrl, binDir } = cluster);
    kubeletStateDir = tempDir;
  }

  const client = await KubeClient.create({ kubeconfigPath });
  try {
    if (!cluster) {
      await ensureRuntimeClass(client);
      const external = await externalKubeletStateDir(kubeconfigPath);
      if (process.env.STAND_IN_KUBELET === 'external') {
        kubeletStateDir = external;
      } else {
        tempDir = await mkdtemp(join(tmpdir(), 'reaper-flow-kubelet-'));
        try {
          kubelet = await StandInKubelet.start({
            client,
            stateDir: tempDir,
            log: stderrLogger('stand-in-kubelet'),
            tls: await externalKubeletTls(kubeconfigPath),
          });
          kubeletStateDir = tempDir;
        } catch (err) {
          if (!(err instanceof KubeletConflictError)) throw err;
          log(`${err.message}: it serves this run (set STAND_IN_KUBELET=external to skip this check)`);
          kubeletStateDir = external;
        }
      }
    }
    const crds = await applyCrds(client, join(REPO_ROOT, 'infra/crds'));
    log(crds.length ? `CRDs Established: ${crds.join(', ')}` : 'no CRDs in infra/crds yet');
  } catch (err) {
    await kubelet?.stop();
    client.close();
    await cluster?.stop();
    if (tempDir) await removeDir(tempDir);
    throw err;
  }

  project.provide('kubeconfigPath', kubeconfigPath);
  project.provide('redisUrl', redisUrl);
  project.provide('binDir', binDir);
  project.provide('kubeletStateDir', kubeletStateDir);
  process.env.KUBECONFIG = kubeconfigPath;
  process.env.REDIS_URL = redisUrl;
  process.env.REAPER_FLOW_BIN_DIR = binDir;

  return async () => {
    await kubelet?.stop();
    client.close();
    await cluster?.stop();
    if (tempDir) await removeDir(tempDir);
  };
}

/** The kubelet certificates of `npm run cluster -- up` when KUBECONFIG is its kubeconfig (for `kubectl logs`). */
async function externalKubeletTls(kubeconfigPath: string) {
  const state = await readState(defaultStateDir()).catch(() => undefined);
  return state && resolve(state.kubeconfigPath) === kubeconfigPath
    ? kubeletTlsIn(stateLayout(state.stateDir).pkiDir)
    : undefined;
}

/** The state dir of `npm run cluster -- up` when KUBECONFIG is its kubeconfig (its daemon kubelet's node roots). */
async function externalKubeletStateDir(kubeconfigPath: string): Promise<string> {
  const state = await readState(defaultStateDir()).catch(() => undefined);
  return state && resolve(state.kubeconfigPath) === kubeconfigPath && state.kubelet === 'daemon'
    ? state.stateDir
    : '';
}
