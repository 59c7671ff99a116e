import { describe, expect, it } from 'vitest';
import { type AfterJob, createAfterGraph, formatCyclePath } from './after-graph';

const job = (name: string, after: string[] = [], phase?: AfterJob['phase']): AfterJob => ({
  name,
  after,
  ...(phase && { phase }),
});

describe('a three-stage chain', () => {
  const graph = createAfterGraph([
    job('mount-filesystems', [], 'Completed'),
    job('install-packages', ['mount-filesystems'], 'Running'),
    job('configure-slurm', ['install-packages']),
  ]);

  it('lets the second stage start once the first is Completed', () => {
    expect(graph.readyToStart('mount-filesystems')).toEqual(['install-packages']);
    expect(graph.blockReason('install-packages')).toEqual({ kind: 'none' });
  });

  it('keeps the third stage waiting on the second, naming its phase', () => {
    expect(graph.blockReason('configure-slurm')).toEqual({
      kind: 'waiting',
      names: ['install-packages'],
      phases: { 'install-packages': 'Running' },
    });
    expect(graph.readyToStart('install-packages')).toEqual(['configure-slurm']);
  });

  it('answers direct dependents only', () => {
    expect(graph.dependentsOf('mount-filesystems')).toEqual(['install-packages']);
    expect(graph.dependentsOf('configure-slurm')).toEqual([]);
  });
});

describe('a diamond', () => {
  const jobs = (left: AfterJob['phase'], right: AfterJob['phase']) =>
    createAfterGraph([
      job('base', [], 'Completed'),
      job('left', ['base'], left),
      job('right', ['base'], right),
      job('top', ['right', 'left']),
    ]);

  it('starts both branches when the base completes', () => {
    expect(jobs(undefined, undefined).readyToStart('base')).toEqual(['left', 'right']);
  });

  it('does not start the top when only one branch is Completed', () => {
    const graph = jobs('Completed', 'Running');
    expect(graph.readyToStart('left')).toEqual([]);
    expect(graph.blockReason('top')).toEqual({
      kind: 'waiting',
      names: ['right'],
      phases: { right: 'Running' },
    });
  });

  it('starts the top when the last branch completes, even before its status says so', () => {
    expect(jobs('Completed', 'Running').readyToStart('right')).toEqual(['top']);
  });

  it('reports a PartiallyFailed branch as failed rather than waiting', () => {
    expect(jobs('PartiallyFailed', 'Running').blockReason('top')).toEqual({
      kind: 'failed',
      names: ['left'],
    });
  });
});

describe('cycles', () => {
  it('are reported as ordered closed paths', () => {
    const graph = createAfterGraph([job('a', ['b']), job('b', ['c']), job('c', ['a']), job('d', [])]);
    expect(graph.findCycles()).toEqual([['a', 'b', 'c', 'a']]);
    expect(formatCyclePath(['a', 'b', 'c', 'a'])).toBe('a -> b -> c -> a');
  });

  it('report a self-reference as a one-job cycle', () => {
    const graph = createAfterGraph([job('a', ['a']), job('b', [])]);
    expect(graph.findCycles()).toEqual([['a', 'a']]);
    expect(graph.blockReason('a')).toEqual({ kind: 'cycle', path: ['a', 'a'] });
  });

  it('are listed one per strongly connected component, sorted', () => {
    const graph = createAfterGraph([job('z', ['y']), job('y', ['z']), job('b', ['a']), job('a', ['b'])]);
    expect(graph.findCycles()).toEqual([
      ['a', 'b', 'a'],
      ['y', 'z', 'y'],
    ]);
  });

  it('block every job on the cycle with the cycle as seen from that job', () => {
    const graph = createAfterGraph([job('a', ['b']), job('b', ['c']), job('c', ['a'])]);
    expect(graph.blockReason('b')).toEqual({ kind: 'cycle', path: ['b', 'c', 'a', 'b'] });
  });

  it('block a job that depends on a cycle transitively', () => {
    const graph = createAfterGraph([job('a', ['b']), job('b', ['a']), job('c', ['d']), job('d', ['a'])]);
    expect(graph.blockReason('c')).toEqual({ kind: 'cycle', path: ['a', 'b', 'a'] });
    expect(graph.readyToStart('a')).toEqual([]);
  });

  it('never make a job on a cycle ready, even when its dependencies say Completed', () => {
    const graph = createAfterGraph([job('a', ['b'], 'Completed'), job('b', ['a'], 'Completed')]);
    expect(graph.readyToStart('a')).toEqual([]);
  });
});

describe('missing dependencies', () => {
  const graph = createAfterGraph([job('a', ['ghost', 'b', 'phantom']), job('b', [], 'Completed')]);

  it('are listed sorted', () => {
    expect(graph.missingDependencies('a')).toEqual(['ghost', 'phantom']);
  });

  it('block the job', () => {
    expect(graph.blockReason('a')).toEqual({ kind: 'missing', names: ['ghost', 'phantom'] });
    expect(graph.readyToStart('b')).toEqual([]);
  });

  it('do not appear as jobs of the graph', () => {
    expect(graph.dependentsOf('ghost')).toEqual([]);
    expect(graph.findCycles()).toEqual([]);
  });
});

describe('jobs without dependencies', () => {
  it('are never blocked', () => {
    expect(createAfterGraph([job('solo')]).blockReason('solo')).toEqual({ kind: 'none' });
  });

  it('a job name that is also an Object.prototype key is an ordinary job', () => {
    const graph = createAfterGraph([job('constructor', [], 'Running'), job('a', ['constructor'])]);
    expect(graph.blockReason('a')).toEqual({
      kind: 'waiting',
      names: ['constructor'],
      phases: { constructor: 'Running' },
    });
  });
});
