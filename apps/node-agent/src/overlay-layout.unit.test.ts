import { describe, expect, it } from 'vitest';
import { overlayPaths, validateOverlayLabel } from './overlay-layout';

describe('overlay names', () => {
  it.each([
    '../etc',
    '..',
    '.',
    'a/b',
    '/etc',
    'a\\b',
    '',
    'Upper',
    '-a',
    'a-',
    'a.b',
    'a\0b',
    'a--b',
    'x'.repeat(64),
  ])('refuses %j with InvalidOverlayName', (bad) => {
    expect(() => validateOverlayLabel('name', bad)).toThrowError(
      expect.objectContaining({ code: 'agent.InvalidOverlayName' }),
    );
    expect(() => overlayPaths('/run/reaper', bad, 'ok')).toThrowError(
      expect.objectContaining({ code: 'agent.InvalidOverlayName' }),
    );
    expect(() => overlayPaths('/run/reaper', 'ok', bad)).toThrowError(
      expect.objectContaining({ code: 'agent.InvalidOverlayName' }),
    );
  });

  it.each(['default', 'slurm', 'node-config-2', 'a', 'x'.repeat(63)])('accepts %j', (good) => {
    expect(() => validateOverlayLabel('namespace', good)).not.toThrow();
  });

  it('lays out the runtime paths under the state dir', () => {
    expect(overlayPaths('/run/reaper', 'team-a', 'slurm')).toEqual({
      root: '/run/reaper',
      namespace: 'team-a',
      name: 'slurm',
      overlayDir: '/run/reaper/overlay/team-a/slurm',
      upperDir: '/run/reaper/overlay/team-a/slurm/upper',
      workDir: '/run/reaper/overlay/team-a/slurm/work',
      mergedDir: '/run/reaper/merged/team-a/slurm',
      nsFile: '/run/reaper/ns/team-a--slurm',
      helperPidFile: '/run/reaper/ns/team-a--slurm.pid',
      lockFile: '/run/reaper/overlay-team-a--slurm.lock',
      generationFile: '/run/reaper/overlay/team-a/slurm/.reaper-generation',
    });
  });
});
