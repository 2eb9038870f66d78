/**
 * @file Host-buffer edge of the collectives: packs tensor leaves (any tfjs backend) into one
 * Float32Array and rebuilds tensors from it. Synchronous (a gradient hook runs inside a pure step).
 */
import * as tf from '@tensorflow/tfjs-core';

/** Where each packed leaf lives in the flat buffer. @category io */
export interface PackedLayout {
  readonly shapes: readonly (readonly number[] | null)[];
  readonly offsets: readonly number[];
  readonly total: number;
}

/** Copies the float32 leaves (nulls kept as holes) into one Float32Array, in order. @category io */
export function packLeaves(leaves: readonly (tf.Tensor | null)[], what: string): { readonly buf: Float32Array; readonly layout: PackedLayout } {
  const shapes: (readonly number[] | null)[] = [];
  const offsets: number[] = [];
  let total = 0;
  leaves.forEach((l, i) => {
    if (l !== null && l.dtype !== 'float32') throw new TypeError(`${what}: leaf ${i} has dtype ${l.dtype}; collectives carry float32 tensors only`);
    shapes.push(l === null ? null : l.shape);
    offsets.push(total);
    total += l === null ? 0 : l.size;
  });
  const buf = new Float32Array(total);
  leaves.forEach((l, i) => { if (l !== null) buf.set(l.dataSync() as Float32Array, offsets[i] as number); });
  return { buf, layout: { shapes, offsets, total } };
}

/** New tensors (current backend) from a packed buffer; holes come back as null. @category io */
export function unpackLeaves(buf: Float32Array, layout: PackedLayout): (tf.Tensor | null)[] {
  return layout.shapes.map((shape, i) => {
    if (shape === null) return null;
    const o = layout.offsets[i] as number;
    const n = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(buf.slice(o, o + n), [...shape], 'float32');
  });
}

/** The tensors of a tree in a stable order (object keys sorted; numbers, strings, nulls skipped). @category io */
export function treeTensors(tree: unknown): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  const go = (n: unknown): void => {
    if (n instanceof tf.Tensor) out.push(n);
    else if (Array.isArray(n)) n.forEach(go);
    else if (n !== null && typeof n === 'object') for (const k of Object.keys(n).sort()) go((n as Record<string, unknown>)[k]);
  };
  go(tree);
  return out;
}

/** A copy of `tree` with its tensors (in {@link treeTensors} order) replaced by `values`. @category io */
export function replaceTensors<X>(tree: X, values: readonly tf.Tensor[]): X {
  let i = 0;
  const go = (n: unknown): unknown => {
    if (n instanceof tf.Tensor) {
      const v = values[i++];
      if (v === undefined) throw new RangeError(`replaceTensors: ${values.length} values for a tree with more tensors`);
      return v;
    }
    if (Array.isArray(n)) return n.map(go);
    if (n !== null && typeof n === 'object') return Object.fromEntries(Object.keys(n).sort().map((k) => [k, go((n as Record<string, unknown>)[k])]));
    return n;
  };
  const out = go(tree) as X;
  if (i !== values.length) throw new RangeError(`replaceTensors: ${values.length} values for a tree with ${i} tensors`);
  return out;
}
