import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Logger } from '../log';
import { PACKAGE_DIR, REPO_ROOT } from '../paths';

const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;

/**
 * Runs build-binaries.sh (a no-op when the per-machine cache is complete) and returns the bin dir;
 * `extras` are binaries built only on request (kubelet and kube-proxy, for real nodes).
 */
export async function ensureBinaries(extras: readonly ('kubelet' | 'kube-proxy')[] = []): Promise<string> {
  const binDir = await runBuildScript(join(PACKAGE_DIR, 'build-binaries.sh'), extras);
  for (const name of [...BINARIES, ...extras]) {
    await access(join(binDir, name), constants.X_OK).catch(() => {
      throw new Error(`${name} is missing from ${binDir}: delete ${binDir}/.complete and run up again`);
    });
  }
  return binDir;
}

/**
 * Runs infra/helm/build-helm.sh (a no-op once the pinned helm is in the per-machine cache; a cold
 * build compiles it from its Go module, minutes on 2 cores) and returns the helm binary's path.
 */
export async function ensureHelm(): Promise<string> {
  const helm = await runBuildScript(join(REPO_ROOT, 'infra/helm/build-helm.sh'));
  await access(helm, constants.X_OK);
  return helm;
}

/**
 * Runs infra/local-cluster/build-coredns.sh (a no-op once the pinned CoreDNS is in the per-machine
 * cache; cold, it compiles it from its Go module) and returns the coredns binary's path.
 */
export async function ensureCoreDns(): Promise<string> {
  const coredns = await runBuildScript(join(PACKAGE_DIR, 'build-coredns.sh'));
  await access(coredns, constants.X_OK);
  return coredns;
}

/**
 * Runs a build script of ours and returns the last line it printed (the path it built). Its
 * progress goes straight to our stderr: a cold build takes many minutes and must not look like a hang.
 */
async function runBuildScript(script: string, args: readonly string[] = []): Promise<string> {
  const child = spawn('bash', [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`${script} failed with exit code ${code} (see its output above)`);
  const path = stdout.trim().split('\n').pop()?.trim();
  if (!path) throw new Error(`${script} printed no path`);
  return path;
}

/**
 * Path of Debian's redis-server; installs the package (apt-get update + install, as root) when it is
 * missing, as scripts/ensure-deps.mjs does for `npm test`.
 */
export function ensureRedisServer(log: Logger): Promise<string> {
  return ensureDebianProgram('redis-server', log);
}

/** Debian's redis-sentinel (the Sentinel topology of `up --redis sentinel`), installed if missing. */
export function ensureRedisSentinel(log: Logger): Promise<string> {
  return ensureDebianProgram('redis-sentinel', log);
}

/** The program of the Debian package of the same name, installed with apt-get when missing. */
async function ensureDebianProgram(name: 'redis-server' | 'redis-sentinel', log: Logger): Promise<string> {
  await ensureDebianPackages([{ name, present: () => onPath(name) !== undefined }], log);
  const installed = onPath(name);
  if (!installed) throw new Error(`apt-get installed ${name} but it is not on PATH`);
  return installed;
}

/** A Debian package and how to tell it is there (a program on PATH, a file). */
export interface DebianPackage {
  readonly name: string;
  readonly present: () => boolean;
}

/** Installs (apt-get update + install, as root) those of `packages` that are missing; one apt run. */
export async function ensureDebianPackages(packages: readonly DebianPackage[], log: Logger): Promise<void> {
  const missing = packages.filter((p) => !p.present()).map((p) => p.name);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `not installed: ${missing.join(', ')}; run \`sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}\``,
    );
  }
  log(`not found: installing Debian's ${missing.join(', ')} (apt-get)`);
  await run('apt-get', ['update', '-qq']);
  await run('apt-get', ['install', '-y', '-qq', ...missing]);
  const still = packages.filter((p) => !p.present()).map((p) => p.name);
  if (still.length > 0) throw new Error(`apt-get installed ${still.join(', ')} but they are still missing`);
}

/** The first `name` on PATH that is executable. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      return join(dir, name);
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

/** Runs a command with its output on our stderr (stdout stays clean for the CLI's `env`). */
async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', process.stderr, process.stderr] });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed with exit code ${code}`);
}
