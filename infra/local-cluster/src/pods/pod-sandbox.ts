import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import type { Logger } from '../log';
import type { Mount } from './pod-volumes';

/** isolated: own mount + UTS namespace and a chroot; direct: a plain child process (no volumes). */
export type SandboxMode = 'isolated' | 'direct';

const UNSHARE = '/usr/bin/unshare';
const NSENTER = '/usr/bin/nsenter';
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
  /** Host dir that becomes the pod's /tmp (not with an overlay: /tmp is the overlay's). */
  readonly tmpDir: string;
  /**
   * The pod's ReaperOverlay: the pod enters the helper's mount namespace, where the overlay (host
   * root below, the overlay's upper dir on top) is mounted at `mergedDir`, and runs chrooted there.
   */
  readonly overlay?: { readonly helperPid: number; readonly mergedDir: string } | undefined;
  readonly mounts: readonly Mount[];
  readonly workingDir: string | undefined;
  readonly argv: readonly string[];
}

/** The program and arguments that run a container's argv in the chosen sandbox. */
export function sandboxCommand(spec: SandboxSpec): { command: string; args: string[]; cwd: string } {
  const [program, ...rest] = spec.argv;
  if (!program) throw new Error('empty command');
  if (spec.mode === 'direct') {
    if (spec.overlay) throw new Error('overlays need the isolated sandbox (root and unshare)');
    return { command: program, args: rest, cwd: spec.nodeRoot };
  }
  const script = spec.overlay ? overlayScript(spec, spec.overlay.mergedDir) : setupScript(spec);
  const unshare = [
    // --kill-child: if unshare itself is killed, the container process does not outlive it.
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
  ];
  if (!spec.overlay) return { command: UNSHARE, args: unshare, cwd: '/' };
  // nsenter execs unshare inside the overlay's namespace: the pod's namespace is a copy of it.
  return {
    command: NSENTER,
    args: [`--mount=/proc/${spec.overlay.helperPid}/ns/mnt`, '--', UNSHARE, ...unshare],
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

/**
 * The setup of a pod with an overlay, run in its private copy of the overlay's namespace: the
 * overlay (the host's root filesystem with the overlay's writes on top) is the root, so every
 * write outside a volume lands in the overlay's upper dir, never on the host. Mount points are
 * made inside the chroot (symlinks such as /var/run -> /run resolve within the overlay, never to
 * the host's directories); then /dev, a fresh /proc and the volumes, the hostname, and the command.
 */
function overlayScript(spec: SandboxSpec, mergedDir: string): string {
  const inRoot = (...args: string[]) => `/usr/sbin/chroot "$R" ${args.join(' ')}`;
  const lines = [
    'set -u',
    'fail() { echo "reaper sandbox: cannot set up $1" >&2; exit 128; }',
    'CONTAINER_PATH="$PATH"',
    `PATH=${SETUP_PATH}`,
    `R=${q(mergedDir)}`,
    // Prints the mount point of $1 (dir) or a file ($2 = file) as seen from here, made in the overlay.
    `point() { t=$(${inRoot('/usr/bin/realpath', '-m', '--', '"$1"')}) || return 1; ` +
      `if [ "$2" = file ]; then ${inRoot('/bin/mkdir', '-p', '--', '"$(dirname -- "$t")"')} && ${inRoot('/usr/bin/touch', '--', '"$t"')}; ` +
      `else ${inRoot('/bin/mkdir', '-p', '--', '"$t"')}; fi || return 1; printf '%s' "$R$t"; }`,
    `mount --rbind /dev "$R/dev" || fail /dev`,
    `mount -t proc proc "$R/proc" || fail /proc`,
  ];
  for (const m of spec.mounts) {
    const what = q(`volume at ${m.target}`);
    lines.push(
      `P=$(point ${q(m.target)} ${m.isFile ? 'file' : 'dir'}) || fail ${what}`,
      `mount --bind ${q(m.source)} "$P" ${m.readOnly ? '&& mount -o remount,bind,ro "$P" ' : ''}|| fail ${what}`,
    );
  }
  const workingDir = spec.workingDir || '/';
  lines.push(
    `hostname ${q(spec.node)} || fail hostname`,
    `point ${q(workingDir)} dir >/dev/null 2>&1`,
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
