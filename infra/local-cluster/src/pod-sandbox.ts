import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import type { Logger } from './log';
import type { Mount } from './pod-volumes';

/** isolated: own mount + UTS namespace and a chroot; direct: a plain child process (no volumes). */
export type SandboxMode = 'isolated' | 'direct';

const UNSHARE = '/usr/bin/unshare';
const HOST_DIRS = ['/bin', '/sbin', '/usr', '/lib', '/lib64', '/etc'] as const;
const SETUP_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Chooses the sandbox once: isolation needs root and unshare, and is probed for real (a container
 * without CAP_SYS_ADMIN has both yet cannot mount). Falls back to direct with one warning.
 */
export function detectSandbox(log: Logger): SandboxMode {
  const why =
    process.getuid?.() !== 0
      ? 'not running as root'
      : !existsSync(UNSHARE)
        ? `${UNSHARE} is missing`
        : spawnSync(UNSHARE, ['--mount', '--uts', '--fork', '--propagation', 'private', 'true']).status !== 0
          ? 'unshare --mount --uts failed (no CAP_SYS_ADMIN?)'
          : undefined;
  if (!why) return 'isolated';
  log(
    `WARNING: ${why}: pod commands run as plain processes in their node dir; volumes and hostname are not provided`,
  );
  return 'direct';
}

export interface SandboxSpec {
  readonly mode: SandboxMode;
  readonly node: string;
  /** `<nodeRoot>`: cwd of direct mode. */
  readonly nodeRoot: string;
  /** `<nodeRoot>/rootfs`: only a mount point; a tmpfs is mounted on it inside the pod's namespace. */
  readonly rootfs: string;
  /** Host dir that becomes the pod's /tmp. */
  readonly tmpDir: string;
  readonly mounts: readonly Mount[];
  readonly workingDir: string | undefined;
  readonly argv: readonly string[];
}

/** The program and arguments that run a container's argv in the chosen sandbox. */
export function sandboxCommand(spec: SandboxSpec): { command: string; args: string[]; cwd: string } {
  const [program, ...rest] = spec.argv;
  if (!program) throw new Error('empty command');
  if (spec.mode === 'direct') return { command: program, args: rest, cwd: spec.nodeRoot };
  const script = setupScript(spec);
  return {
    command: UNSHARE,
    // --kill-child: if unshare itself is killed, the container process does not outlive it.
    args: [
      '--mount',
      '--uts',
      '--fork',
      '--kill-child',
      '--propagation',
      'private',
      '/bin/sh',
      '-c',
      script,
      'reaper-sandbox',
      ...spec.argv,
    ],
    cwd: '/',
  };
}

/**
 * Runs inside the new mount and UTS namespaces (private propagation: nothing it mounts is visible to
 * the host). Builds the rootfs on a tmpfs, so mount points are created only there: read-only binds of
 * the host's system dirs, its own /tmp, /dev, a fresh /proc and the pod's volumes; sets the hostname
 * to the node; then execs the command chrooted, in its working dir.
 */
function setupScript(spec: SandboxSpec): string {
  const r = (path: string) => `"$R"${q(path)}`;
  const bind = (source: string, target: string, readOnly: boolean, what: string) =>
    `mount --bind ${q(source)} ${r(target)} ${readOnly ? `&& mount -o remount,bind,ro ${r(target)} ` : ''}|| fail ${q(what)}`;
  const lines = [
    'set -u',
    'fail() { echo "reaper sandbox: cannot set up $1" >&2; exit 128; }',
    'CONTAINER_PATH="$PATH"',
    `PATH=${SETUP_PATH}`,
    `R=${q(spec.rootfs)}`,
    'mount -t tmpfs -o mode=0755 reaper-rootfs "$R" || fail rootfs',
  ];
  for (const dir of HOST_DIRS) {
    const info = hostDir(dir);
    if (info === undefined) continue;
    if (info.symlink !== undefined) lines.push(`ln -s ${q(info.symlink)} ${r(dir)} || fail ${q(dir)}`);
    else lines.push(`mkdir -p ${r(dir)} && ${bind(dir, dir, true, dir)}`);
  }
  lines.push(
    `mkdir -p ${r('/tmp')} ${r('/dev')} ${r('/proc')} ${r('/root')} || fail dirs`,
    `${bind(spec.tmpDir, '/tmp', false, '/tmp')}`,
    `mount --rbind /dev ${r('/dev')} || fail /dev`,
    `mount -t proc proc ${r('/proc')} || fail /proc`,
  );
  for (const m of spec.mounts) {
    const parent = m.target.replace(/\/[^/]*$/, '') || '/';
    const point = m.isFile ? `mkdir -p ${r(parent)} && touch ${r(m.target)}` : `mkdir -p ${r(m.target)}`;
    lines.push(
      `{ ${point}; } 2>/dev/null || fail ${q(`mount point ${m.target} (inside a read-only host dir?)`)}`,
    );
    lines.push(bind(m.source, m.target, m.readOnly, `volume at ${m.target}`));
  }
  const workingDir = spec.workingDir || '/';
  lines.push(
    `hostname ${q(spec.node)} || fail hostname`,
    `mkdir -p ${r(workingDir)} 2>/dev/null`,
    'PATH="$CONTAINER_PATH"',
    'export PATH',
    `exec /usr/sbin/chroot "$R" /bin/sh -c 'cd "$1" || exit 128; shift; exec "$@"' reaper-start ${q(workingDir)} "$@"`,
  );
  return lines.join('\n');
}

function hostDir(dir: string): { symlink?: string } | undefined {
  try {
    const st = lstatSync(dir);
    if (st.isSymbolicLink()) return { symlink: readlinkSync(dir) };
    return st.isDirectory() ? {} : undefined;
  } catch {
    return undefined;
  }
}

/** Single-quotes for sh. */
function q(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
