import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The tree's dependency rules, checked on every `npm test`:
// - packages/domain is pure: no I/O modules, no clock, no randomness, no environment;
// - no import cycle between files, and none between workspace packages.

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = [
  'packages',
  'apps',
  'infra/images/src',
  'infra/local-cluster/src',
  'test',
  'scripts',
  'bench',
];

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    if (entry === 'node_modules' || entry.startsWith('.')) return [];
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(entry) && !entry.endsWith('.d.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/** The names a file imports from each module (`import {a, type B} from 'm'`, `import type {C} from 'm'`). */
function namedImportsOf(file: string): { from: string; name: string; typeOnly: boolean }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  return source.statements.flatMap((statement) => {
    if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) return [];
    const from = statement.moduleSpecifier.text;
    const clause = statement.importClause;
    if (!clause) return [];
    const found: { from: string; name: string; typeOnly: boolean }[] = [];
    if (clause.name) found.push({ from, name: 'default', typeOnly: clause.isTypeOnly });
    const bindings = clause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings))
      found.push({ from, name: '*', typeOnly: clause.isTypeOnly });
    if (bindings && ts.isNamedImports(bindings)) {
      for (const element of bindings.elements) {
        const name = (element.propertyName ?? element.name).text;
        found.push({ from, name, typeOnly: clause.isTypeOnly || element.isTypeOnly });
      }
    }
    return found;
  });
}

const files = SOURCE_DIRS.flatMap((d) => sourceFiles(join(root, d)));
const rel = (f: string) => relative(root, f);

function resolveRelative(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, join(base, 'index.ts'), base.replace(/\.js$/, '.ts')]) {
    if (files.includes(candidate)) return candidate;
  }
  return undefined;
}

const workspaceOf = (file: string): string | undefined => {
  const m = /^(packages|apps)\/([^/]+)\//.exec(rel(file));
  return m ? `@reaper-flow/${m[2]}` : undefined;
};

/** Returns one cycle (as a path) in a directed graph, or undefined. */
function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const s = state.get(next);
      if (s === 'visiting') return [...stack.slice(stack.indexOf(next)), next];
      if (s === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return undefined;
}

describe('architecture', () => {
  const domainFiles = files.filter((f) => rel(f).startsWith('packages/domain/src/'));
  const domainSources = domainFiles.filter((f) => !/\.test\.ts$/.test(f));

  it('finds the domain package sources', () => {
    expect(domainSources.length).toBeGreaterThan(0);
  });

  it('packages/domain imports no I/O module', () => {
    const allowed = (spec: string) =>
      spec.startsWith('.') || spec === 'zod' || spec === '@dagrejs/graphlib' || spec === 'yaml';
    const offending = domainSources.flatMap((f) =>
      importsOf(f)
        .filter((spec) => !allowed(spec))
        .map((spec) => `${rel(f)} imports ${spec}`),
    );
    expect(offending).toEqual([]);
  });

  it('packages/domain reads no clock, randomness or environment', () => {
    const banned = [
      /\bDate\.now\(/,
      /\bnew Date\(\s*\)/,
      /\bMath\.random\(/,
      /\bprocess\./,
      /\bperformance\.now\(/,
    ];
    const offending = domainSources.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      return banned.filter((re) => re.test(text)).map((re) => `${rel(f)} uses ${re.source}`);
    });
    expect(offending).toEqual([]);
  });

  it('has no import cycle between files', () => {
    const graph = new Map<string, string[]>();
    for (const f of files) {
      const deps = importsOf(f)
        .filter((spec) => spec.startsWith('.'))
        .map((spec) => resolveRelative(f, spec))
        .filter((d): d is string => d !== undefined);
      graph.set(rel(f), deps.map(rel));
    }
    expect(findCycle(graph)).toBeUndefined();
  });

  it('has no import cycle between workspace packages', () => {
    const graph = new Map<string, string[]>();
    for (const f of files) {
      const from = workspaceOf(f);
      if (!from) continue;
      const deps = importsOf(f).filter((spec) => spec.startsWith('@reaper-flow/') && spec !== from);
      graph.set(from, [...new Set([...(graph.get(from) ?? []), ...deps])]);
    }
    expect(findCycle(graph)).toBeUndefined();
  });

  it('no app talks to Redis but through packages/queue (its stores, queues and key map)', () => {
    const appSources = files.filter(
      (f) => rel(f).startsWith('apps/') && !/\.test\.ts$|\.test-support\.ts$/.test(f),
    );
    expect(appSources.length).toBeGreaterThan(0);
    // A raw client (ioredis) or a key spelled out with a prefix would be a second owner of Redis.
    const offending = appSources.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      const found = importsOf(f)
        .filter((spec) => spec === 'ioredis')
        .map((spec) => `${rel(f)} imports ${spec}`);
      if (/\$\{[\w.]*prefix\}:/.test(text)) found.push(`${rel(f)} builds a key from the prefix`);
      return found;
    });
    expect(offending).toEqual([]);
  });

  it('no scheduler reconciler reaches raw Redis: only its wiring opens connections', () => {
    // The wiring (scheduler.ts, main.ts) opens connections and hands reconcilers stores, queues and
    // a QueueFactory (packages/queue); a reconciler holding a client, the key prefix or a BullMQ
    // object it built on a connection would be a way around the classes that own the keys.
    const wiring = new Set(['apps/scheduler/src/scheduler.ts', 'apps/scheduler/src/main.ts']);
    const reconcilerSources = files.filter(
      (f) => rel(f).startsWith('apps/scheduler/src/') && !wiring.has(rel(f)) && !/\.test\.ts$/.test(f),
    );
    expect(reconcilerSources.length).toBeGreaterThan(0);
    const banned: Readonly<Record<string, readonly string[]>> = {
      '@reaper-flow/queue': ['createRedis', 'RedisClient'],
      bullmq: ['Worker', 'Queue', 'FlowProducer', 'QueueEvents'],
      ioredis: ['*'],
    };
    const offending = reconcilerSources.flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      const found = namedImportsOf(f)
        .filter(({ from, name, typeOnly }) => {
          const names = banned[from];
          if (!names) return false;
          // A BullMQ type (a Job handed in, the Queue a metric samples) is harmless; its value builds
          // on a connection. A client type is not: it means a reconciler holds a client.
          if (from === 'bullmq' && typeOnly) return false;
          return names.includes('*') || names.includes(name);
        })
        .map(({ from, name }) => `${rel(f)} imports ${name} from ${from}`);
      if (/\b(ctx|context)\.(redis|prefix)\b|\bconfig\.redis\b/.test(text))
        found.push(`${rel(f)} reads the Redis client, prefix or connection settings`);
      return found;
    });
    expect(offending).toEqual([]);
  });

  it('the named-import reader sees value and type imports', () => {
    const names = namedImportsOf(join(root, 'apps/scheduler/src/scheduler.ts'));
    expect(names).toContainEqual({ from: '@reaper-flow/queue', name: 'createRedis', typeOnly: false });
    expect(names).toContainEqual({ from: 'bullmq', name: 'Worker', typeOnly: true });
  });

  it('the cycle finder reports a cycle when there is one', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
    ]);
    expect(findCycle(graph)).toEqual(['a', 'b', 'c', 'a']);
  });
});

describe('reaper-flow is not a scheduler', () => {
  it('no code in apps/ binds Pods (pods/binding or a Binding object): the kube-scheduler does', () => {
    const binders = files
      .filter((f) => rel(f).startsWith('apps/') && !/\.test\.ts$/.test(f))
      .filter((f) =>
        /['"`]binding['"`]|pods\/binding|kind:\s*['"`]Binding['"`]/.test(readFileSync(f, 'utf8')),
      )
      .map(rel);
    expect(binders).toEqual([]);
  });
});
