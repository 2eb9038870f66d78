/** @file Tree laws: flatten/unflatten round trip. */
import { flatten, unflatten } from '../src/core/tree.js';

/**
 * `unflatten(t, flatten(t)) ≡ t` leaf-for-leaf with the same paths, for a given implementation
 * pair. Returns the paths that differ (empty = holds).
 * @category laws
 */
export function roundTripMismatches(tree: unknown, impl: { flatten: typeof flatten; unflatten: typeof unflatten } = { flatten, unflatten }): string[] {
  const a = impl.flatten(tree);
  const back = impl.unflatten(tree, a.map((l) => l.leaf));
  const b = impl.flatten(back);
  const bad: string[] = [];
  if (a.length !== b.length) return ['<length>'];
  a.forEach((l, i) => {
    const m = b[i];
    if (m === undefined || m.path !== l.path || m.leaf !== l.leaf) bad.push(l.path);
  });
  return bad;
}
