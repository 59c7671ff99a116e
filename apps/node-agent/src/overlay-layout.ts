import { isAbsolute, relative, resolve, sep } from 'node:path';
import { InvalidOverlayNameError, UnsafePathError } from './errors';

/** RFC 1123 label: what Kubernetes allows for a namespace, and what the runtime allows for an overlay. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_LABEL = 63;

/**
 * Rejects anything that is not a DNS-1123 label, so a name can never carry `/`, `..`, NUL or
 * anything else with a meaning in a path.
 *
 * A `--` inside a label is refused too: the runtime joins namespace and name as `<ns>--<name>` for
 * the ns file and the lock, so ("a--b", "c") and ("a", "b--c") would share `ns/a--b--c` and one
 * overlay's reset would kill the other's namespace helper.
 */
export function validateOverlayLabel(what: 'namespace' | 'name', value: string): void {
  if (value.length === 0 || value.length > MAX_LABEL || !DNS_LABEL.test(value)) {
    throw new InvalidOverlayNameError(
      `overlay ${what} ${JSON.stringify(value)} is not a DNS-1123 label ` +
        `(lower-case letters, digits and '-', starting and ending with a letter or digit, at most ${MAX_LABEL} characters)`,
    );
  }
  if (value.includes('--')) {
    throw new InvalidOverlayNameError(
      `overlay ${what} ${JSON.stringify(value)} contains "--", the separator of the runtime's ` +
        `<namespace>--<name> file names: it would be ambiguous with another overlay`,
    );
  }
}

/** Where the Reaper runtime keeps one named overlay under its state dir. All paths are absolute. */
export interface OverlayPaths {
  /** The resolved state dir every path below lives in. */
  readonly root: string;
  readonly namespace: string;
  readonly name: string;
  /** `overlay/<ns>/<name>`: holds upper, work and the agent's generation record. */
  readonly overlayDir: string;
  readonly upperDir: string;
  readonly workDir: string;
  /** `merged/<ns>/<name>`: the mount point of the overlay inside the runtime's namespace. */
  readonly mergedDir: string;
  /** `ns/<ns>--<name>`: the bind-mounted mount namespace of the overlay. */
  readonly nsFile: string;
  /** `ns/<ns>--<name>.pid`: pid of the runtime's namespace helper process. */
  readonly helperPidFile: string;
  /** `overlay-<ns>--<name>.lock`: held by whoever changes the overlay. */
  readonly lockFile: string;
  /** `overlay/<ns>/<name>/.reaper-generation`: the last reset the agent applied (idempotency). */
  readonly generationFile: string;
}

/** Throws unless `target` is `root` itself or lies below it (after resolving `..`). */
export function assertInside(root: string, target: string): void {
  const rel = relative(root, target);
  if (rel === '') return;
  if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
    throw new UnsafePathError(`refusing path ${target}: it is outside the state dir ${root}`);
  }
}

/**
 * Builds the paths of overlay `namespace/name` under `root` (an absolute, already resolved state
 * dir). Names are validated first and every path is checked to stay inside `root`: the second
 * check is redundant with the first on purpose, so a future change to either cannot alone open
 * a way out of the state dir.
 */
export function overlayPaths(root: string, namespace: string, name: string): OverlayPaths {
  validateOverlayLabel('namespace', namespace);
  validateOverlayLabel('name', name);
  const flat = `${namespace}--${name}`;
  const at = (...segments: string[]) => {
    const p = resolve(root, ...segments);
    assertInside(root, p);
    return p;
  };
  const overlayDir = at('overlay', namespace, name);
  return {
    root,
    namespace,
    name,
    overlayDir,
    upperDir: at('overlay', namespace, name, 'upper'),
    workDir: at('overlay', namespace, name, 'work'),
    mergedDir: at('merged', namespace, name),
    nsFile: at('ns', flat),
    helperPidFile: at('ns', `${flat}.pid`),
    lockFile: at(`overlay-${flat}.lock`),
    generationFile: at('overlay', namespace, name, '.reaper-generation'),
  };
}
