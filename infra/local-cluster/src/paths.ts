import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in infra/local-cluster/src). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Directory of the local-cluster package (build-binaries.sh, gomod/). */
export const PACKAGE_DIR = join(REPO_ROOT, 'infra/local-cluster');

/** The state dir `up`/`down`/`status` use: $REAPER_FLOW_STATE_DIR, else `<repo>/.reaper-flow/local`. */
export function defaultStateDir(): string {
  const fromEnv = process.env.REAPER_FLOW_STATE_DIR;
  return fromEnv ? resolve(fromEnv) : join(REPO_ROOT, '.reaper-flow/local');
}

/** Where everything of one cluster lives inside its state dir. */
export function stateLayout(stateDir: string) {
  return {
    stateFile: join(stateDir, 'state.json'),
    kubeconfig: join(stateDir, 'admin.kubeconfig'),
    controllerManagerKubeconfig: join(stateDir, 'pki/controller-manager.kubeconfig'),
    schedulerKubeconfig: join(stateDir, 'pki/scheduler.kubeconfig'),
    pkiDir: join(stateDir, 'pki'),
    logsDir: join(stateDir, 'logs'),
    dataDir: join(stateDir, 'data'),
    nodesDir: join(stateDir, 'nodes'),
    logFile: (name: string) => join(stateDir, 'logs', `${name}.log`),
  };
}

/** Per-node root of the stand-in kubelet: rootfs, pod dirs, logs, fake host paths, Reaper state dir. */
export function nodeLayout(stateDir: string, node: string) {
  const root = join(stateDir, 'nodes', node);
  return {
    root,
    rootfs: join(root, 'rootfs'),
    logsDir: join(root, 'logs'),
    runDir: join(root, 'run'),
    hostDir: join(root, 'host'),
    /**
     * The node's Reaper runtime state dir, where its node agent keeps the overlays
     * (`overlay/<ns>/<name>/{upper,work}`, ...) and the stand-in kubelet mounts them from.
     */
    reaperDir: join(root, 'reaper'),
    podDir: (uid: string) => join(root, 'pods', uid),
    podLog: (namespace: string, pod: string) => join(root, 'logs', `${namespace}_${pod}.log`),
    pidFile: (uid: string) => join(root, 'run', `${uid}.pid`),
  };
}
