// The Dockerfile and `npm run images` build the same image: both follow app-image-contents.ts, and
// this test reads the Dockerfile and the deployment manifests and fails where they differ from it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  APP_EXTRA_PROGRAMS,
  APP_IMAGE,
  APP_IMAGE_TAG,
  appImageRepository,
  IMAGE_APPS,
} from './app-image-contents';

const ROOT = join(import.meta.dirname, '../../..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The Dockerfile's instructions (continuation lines joined, comments dropped) per stage name. */
function stages(dockerfile: string): Map<string, string[]> {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const byStage = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of lines) {
    const from = line.match(/^FROM\s+\S+(?:\s+AS\s+(\S+))?$/i);
    if (from) {
      current = [];
      byStage.set(from[1] ?? `stage-${byStage.size}`, current);
    } else current.push(line.replace(/\s+/g, ' '));
  }
  return byStage;
}

describe('the Dockerfile and the image builder', () => {
  const dockerfile = stages(read('infra/deploy/Dockerfile'));
  const runtime = dockerfile.get('runtime') ?? [];
  const instruction = (name: string) =>
    runtime.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1));
  // The Dockerfile names the app by its build argument, literally.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Docker's syntax, not a template
  const APP = '${APP}';

  it('install the production dependencies with the same npm command', () => {
    expect(dockerfile.get('prod-deps')).toContain(`RUN npm ${APP_IMAGE.npmCiArgs.join(' ')}`);
  });

  it('put the install and the bundle in the same places, with the same entry link', () => {
    expect(instruction('WORKDIR')).toEqual([APP_IMAGE.workdir]);
    expect(instruction('COPY')).toEqual([
      `--from=prod-deps ${APP_IMAGE.workdir} ./`,
      `--from=build ${APP_IMAGE.workdir}/${APP_IMAGE.distDir(APP)} ${APP_IMAGE.distDir(APP)}`,
    ]);
    expect(instruction('RUN')).toContain(
      `ln -s ${APP_IMAGE.mainTarget(APP)} ${APP_IMAGE.workdir}/${APP_IMAGE.mainLink}`,
    );
  });

  it('start the same entry point as the same user, with the same environment and port', () => {
    expect(instruction('ENTRYPOINT').map((e) => JSON.parse(e))).toEqual([APP_IMAGE.entrypoint]);
    expect(instruction('USER')).toEqual([APP_IMAGE.user]);
    expect(instruction('ENV')).toEqual([...APP_IMAGE.env]);
    expect(instruction('EXPOSE')).toEqual([String(APP_IMAGE.port)]);
    // The official node images keep node where the builder puts it.
    expect(APP_IMAGE.entrypoint[0]).toBe(APP_IMAGE.node);
  });

  it('accept the same apps and check for the same extra programs', () => {
    const check = instruction('RUN').find((l) => l.startsWith(`case "${APP}" in`));
    expect(check?.match(/in (\S+)\)/)?.[1]?.split('|')).toEqual([...IMAGE_APPS]);
    for (const [app, programs] of Object.entries(APP_EXTRA_PROGRAMS)) {
      for (const program of programs) {
        const name = program.slice(program.lastIndexOf('/') + 1);
        expect(instruction('RUN').some((l) => l.includes(app) && l.includes(`command -v ${name}`))).toBe(
          true,
        );
      }
    }
  });
});

describe('image names and tags', () => {
  it('are the Helm chart defaults and the kustomize base images', () => {
    expect(read('infra/helm/reaper-flow/Chart.yaml')).toMatch(
      new RegExp(`^appVersion: ${APP_IMAGE_TAG}$`, 'm'),
    );
    const values = read('infra/helm/reaper-flow/values.yaml');
    for (const app of IMAGE_APPS) {
      expect(values).toContain(`repository: ${appImageRepository(app)}\n`);
    }
    for (const app of ['watcher', 'scheduler', 'node-agent'] as const) {
      expect(read(`infra/deploy/base/${app}.yaml`)).toContain(
        `image: ${appImageRepository(app)}:${APP_IMAGE_TAG}\n`,
      );
    }
  });
});
