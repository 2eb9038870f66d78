/**
 * The trust boundary, enforced: outside the trusted folders no file imports raw tfjs-core, and no
 * file outside src/core casts to a tracked type. Raw tfjs is allowed in src/core (the trusted
 * core), src/backends (kernels), src/io (decoding and encoding tensors at the edge) and tests; the
 * few other files that still need it are listed below with the reason, and may not cast either.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const TRUSTED = ['src/core/', 'src/backends/', 'src/io/', 'test/'];
/** Files outside the trusted folders that may import raw tfjs, and why (none of them may cast to a tracked type). */
const RAW_ALLOWED: Readonly<Record<string, string>> = {
  'src/bench/bench.ts': 'tf.memory()/tf.profile() instrumentation of the benchmark',
  'laws/gradcheck.ts': 'finite differences of a raw tfjs function (the law is stated on raw tensors)',
  'laws/memory.ts': 'tf.memory().numTensors counter for the no-leak law',
  'laws/index.ts': 'tf.memory().numTensors counter exported to users',
};
const CAST = /\bas\s+(?:unknown\s+as\s+)?(?:T|Scalar|Constants|Retag)\s*</;
const RAW_IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)['"]@tensorflow\/tfjs-core(?:\/[^'"]*)?['"]/;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (n === 'node_modules' || n.startsWith('.')) return [];
    return statSync(p).isDirectory() ? files(p) : /\.(ts|mts|tsx)$/.test(n) && !n.endsWith('.d.ts') ? [p] : [];
  });
}

/** The violations in one file's text (exported logic is tested against a synthetic file below). */
export function violations(path: string, text: string): string[] {
  const out: string[] = [];
  const trusted = TRUSTED.some((t) => path.startsWith(t));
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    if (l.trimStart().startsWith('//') || l.trimStart().startsWith('*')) return;
    if (!trusted && RAW_ALLOWED[path] === undefined && RAW_IMPORT.test(l)) out.push(`${path}:${i + 1}: imports @tensorflow/tfjs-core outside src/core, src/backends, src/io and tests`);
    if (!path.startsWith('src/core/') && !path.startsWith('test/') && !path.startsWith('src/io/') && !path.startsWith('src/backends/') && CAST.test(l))
      out.push(`${path}:${i + 1}: casts to a tracked type outside src/core: ${l.trim()}`);
  });
  return out;
}

describe('the trust boundary', () => {
  const all = ['src', 'laws', 'web', 'examples'].flatMap((d) => files(join(root, d))).map((p) => relative(root, p).split('\\').join('/'));
  it('scans the code base', () => expect(all.length).toBeGreaterThan(100));
  it('no raw tfjs-core import outside the trusted folders (and the listed files), no cast to a tracked type outside src/core', () => {
    expect(all.flatMap((p) => violations(p, readFileSync(join(root, p), 'utf8')))).toEqual([]);
  });
  it('every listed exception still exists and still needs raw tfjs', () => {
    for (const p of Object.keys(RAW_ALLOWED)) expect(RAW_IMPORT.test(readFileSync(join(root, p), 'utf8')), p).toBe(true);
  });
  it('MUTATION: a model file importing tfjs-core or casting is caught', () => {
    expect(violations('src/models/x.ts', "import * as tf from '@tensorflow/tfjs-core';")).toHaveLength(1);
    expect(violations('src/repae/x.ts', "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';")).toHaveLength(1);
    expect(violations('src/repae/x.ts', 'const d = r.denoisingLoss as T<"sit" | "proj">;')).toHaveLength(1);
    expect(violations('laws/x.ts', 'const d = x as unknown as T<never>;')).toHaveLength(1);
    expect(violations('src/core/x.ts', "import * as tf from '@tensorflow/tfjs-core'; const y = x as T<G>;")).toEqual([]);
    expect(violations('src/bench/bench.ts', 'const y = x as Scalar<"vae">;')).toHaveLength(1);
  });
});
