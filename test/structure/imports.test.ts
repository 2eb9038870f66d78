/**
 * The layers, enforced: every relative import (static, type-only, re-export or dynamic `import()`)
 * in src/ and web/ is read with the TypeScript scanner, each file is mapped to its layer, and an
 * import from a lower layer into a higher one (or between two layers in a circle) fails, naming
 * the edge. Bottom to top (DESIGN.md section 10):
 *
 *   core → backends → collective → nn → models → metrics → losses → sample → optim
 *   → repae (registry, routing, objectives, step: pure, no fs, no data, no I/O)
 *   → io (formats, checkpoints, official state-dict names) → data
 *   → app (train: run setup, loop, config, evaluation; generate; golden; bench; report) → cli → web, the package root
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');

/** Layers bottom to top; a file may import only from its own layer or one listed before it. */
export const LAYERS: readonly (readonly [layer: string, folders: readonly string[]])[] = [
  ['core', ['src/core/']],
  ['backends', ['src/backends/']],
  ['collective', ['src/collective/']],
  ['nn', ['src/nn/']],
  ['models', ['src/models/']],
  ['metrics', ['src/metrics/']],
  ['losses', ['src/losses/']],
  ['sample', ['src/sample/']],
  ['optim', ['src/optim/']],
  ['repae', ['src/repae/']],
  ['io', ['src/io/']],
  ['data', ['src/data/']],
  ['app', ['src/train/', 'src/generate/', 'src/golden/', 'src/bench/', 'src/report/']],
  ['cli', ['src/cli/']],
  ['top', ['src/index.ts', 'web/']],
];

/** The layer index of a repository-relative path, or undefined when it is outside the layered tree. */
export function layerOf(path: string): number | undefined {
  const i = LAYERS.findIndex(([, folders]) => folders.some((f) => path === f || path.startsWith(f)));
  return i < 0 ? undefined : i;
}

/** The relative imports of one file's text, resolved to repository-relative `.ts` paths. */
export function importsOf(path: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((s) => s.startsWith('.'))
    .map((s) => normalize(join(dirname(path), s)).split('\\').join('/').replace(/\.js$/, '.ts'));
}

/** Every import that runs upward, as `from -> to (layer a imports layer b above it)`. */
export function upwardEdges(filesAndTexts: readonly (readonly [string, string])[]): string[] {
  const out: string[] = [];
  for (const [p, text] of filesAndTexts) {
    const a = layerOf(p);
    if (a === undefined) continue;
    for (const q of importsOf(p, text)) {
      const b = layerOf(q);
      if (b !== undefined && b > a) out.push(`${p} -> ${q} (${LAYERS[a]![0]} imports ${LAYERS[b]![0]}, which is above it)`);
    }
  }
  return out;
}

/** Circles between top-level folders (within one layer too), as `a -> b -> ... -> a`. */
export function folderCycles(filesAndTexts: readonly (readonly [string, string])[]): string[] {
  const folder = (p: string): string => p.split('/').slice(0, 2).join('/').replace(/\.ts$/, '');
  const g = new Map<string, Set<string>>();
  for (const [p, text] of filesAndTexts)
    for (const q of importsOf(p, text)) {
      const [a, b] = [folder(p), folder(q)];
      if (a !== b) g.set(a, (g.get(a) ?? new Set()).add(b));
    }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of g.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m].join(' -> '));
      else if (state.get(m) === undefined) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of [...g.keys()].sort()) if (state.get(n) === undefined) visit(n);
  return cycles;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'node_modules' || n.startsWith('.')) return [];
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mts|tsx)$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
  });
}

describe('the layers', () => {
  const all = ['src', 'web']
    .flatMap((d) => files(join(root, d)))
    .map((p) => relative(root, p).split('\\').join('/'))
    .map((p) => [p, readFileSync(join(root, p), 'utf8')] as const);

  it('maps every file in src/ to a layer', () => {
    expect(all.length).toBeGreaterThan(100);
    expect(all.map(([p]) => p).filter((p) => p.startsWith('src/') && layerOf(p) === undefined)).toEqual([]);
  });
  it('no import runs upward', () => expect(upwardEdges(all)).toEqual([]));
  it('no circle between top-level folders', () => expect(folderCycles(all)).toEqual([]));

  it('MUTATION: an upward import, a dynamic one and a type-only one are caught; comments are not', () => {
    expect(upwardEdges([['src/core/grad.ts', "import { x } from '../backends/gradients.js';"]])).toEqual([
      'src/core/grad.ts -> src/backends/gradients.ts (core imports backends, which is above it)',
    ]);
    expect(upwardEdges([['src/models/m.ts', "const m = await import('../io/png.js');"]])).toHaveLength(1);
    expect(upwardEdges([['src/repae/s.ts', "import type { RunConfig } from '../train/config.js';"]])).toHaveLength(1);
    expect(upwardEdges([['src/repae/s.ts', "// import { RunConfig } from '../train/config.js';"]])).toEqual([]);
    expect(upwardEdges([['src/train/loop.ts', "import { repaeStep } from '../repae/step.js';"]])).toEqual([]);
  });
  it('MUTATION: a circle between two folders is caught', () => {
    const c = folderCycles([
      ['src/cli/main.ts', "import '../bench/b.js';"],
      ['src/bench/b.ts', "import '../cli/args.js';"],
    ]);
    expect(c).toEqual(['src/bench -> src/cli -> src/bench']);
  });
});
