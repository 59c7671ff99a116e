import { type DependencyBlock, formatCyclePath } from '../dag/after-graph';
import type { DependencyBlockReason } from './events';

type Blocking = Exclude<DependencyBlock, { kind: 'none' }>;

/** The condition/event reason for a block. */
export function blockReasonName(block: Blocking): DependencyBlockReason {
  switch (block.kind) {
    case 'missing':
      return 'DependencyMissing';
    case 'cycle':
      return 'DependencyCycle';
    case 'failed':
      return 'DependencyFailed';
    case 'waiting':
      return 'DependencyWaiting';
    default: {
      const unknown: never = block;
      return unknown;
    }
  }
}

/** Phase of a waited-for dependency (own property: `constructor` is a valid job name). */
const phaseOf = (block: Extract<Blocking, { kind: 'waiting' }>, name: string): string =>
  (Object.hasOwn(block.phases, name) ? block.phases[name] : undefined) ?? 'Pending';

const plural = (names: readonly string[], one: string, many: string): string =>
  names.length === 1 ? one : many;

/**
 * A sentence naming the jobs or the cycle, e.g. `dependency cycle a -> b -> a`,
 * `waiting for dependency mount-filesystems (Running)`.
 */
export function blockMessage(block: Blocking): string {
  switch (block.kind) {
    case 'missing':
      return `${plural(block.names, 'dependency', 'dependencies')} not found: ${block.names.join(', ')}`;
    case 'cycle':
      return `dependency cycle ${formatCyclePath(block.path)}`;
    case 'failed':
      return `${plural(block.names, 'dependency', 'dependencies')} PartiallyFailed: ${block.names.join(', ')}`;
    case 'waiting': {
      const list = block.names.map((name) => `${name} (${phaseOf(block, name)})`).join(', ');
      return `waiting for ${plural(block.names, 'dependency', 'dependencies')} ${list}`;
    }
    default: {
      const unknown: never = block;
      return unknown;
    }
  }
}

/** Structural equality of two blocks (names, path and phases are compared in order). */
export function sameBlock(a: DependencyBlock, b: DependencyBlock): boolean {
  return JSON.stringify(normalise(a)) === JSON.stringify(normalise(b));
}

const normalise = (block: DependencyBlock): unknown => {
  switch (block.kind) {
    case 'none':
      return ['none'];
    case 'missing':
    case 'failed':
      return [block.kind, block.names];
    case 'cycle':
      return [block.kind, block.path];
    case 'waiting':
      return [block.kind, block.names, block.names.map((name) => phaseOf(block, name))];
    default: {
      const unknown: never = block;
      return unknown;
    }
  }
};
