/**
 * The fully qualified form of an image reference, as containerd's CRI normalizes what a Pod names:
 * `busybox` -> `docker.io/library/busybox:latest`, `reaper/placeholder:v1` ->
 * `docker.io/reaper/placeholder:v1`. An image imported under this name is found by the Pod's name.
 */
export function normalizeReference(reference: string): string {
  const slash = reference.indexOf('/');
  const first = slash === -1 ? '' : reference.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const path = hasRegistry ? reference : `docker.io/${slash === -1 ? `library/${reference}` : reference}`;
  const lastPart = path.slice(path.lastIndexOf('/') + 1);
  return lastPart.includes(':') || lastPart.includes('@') ? path : `${path}:latest`;
}
