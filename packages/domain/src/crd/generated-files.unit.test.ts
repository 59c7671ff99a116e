import { describe, expect, it } from 'vitest';
import reaperDaemonJobsYaml from '../../../../infra/crds/reaperdaemonjobs.yaml?raw';
import reaperOverlaysYaml from '../../../../infra/crds/reaperoverlays.yaml?raw';
import reaperPodsYaml from '../../../../infra/crds/reaperpods.yaml?raw';
import { CRD_FILE_HEADER, renderCrdFiles } from './render';

const committed: Readonly<Record<string, string>> = {
  'reaperpods.yaml': reaperPodsYaml,
  'reaperoverlays.yaml': reaperOverlaysYaml,
  'reaperdaemonjobs.yaml': reaperDaemonJobsYaml,
};

describe('infra/crds', () => {
  it('holds exactly what scripts/gen-crds.ts generates (run it after changing a schema)', () => {
    const generated = Object.fromEntries(renderCrdFiles().map((f) => [f.fileName, f.content]));
    expect(committed).toEqual(generated);
  });

  it('marks every file as generated', () => {
    for (const text of Object.values(committed)) expect(text.startsWith(CRD_FILE_HEADER)).toBe(true);
  });
});
