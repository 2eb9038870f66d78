/** @file Exponential moving average over parameters and float buffers, as explicit data. */
import { foreachEma, identity } from '../core/ops/index.js';
import type { T } from '../core/tensor.js';
import { isTensor } from '../core/tree.js';

/**
 * `ema ← decay·ema + (1 − decay)·value` for every float tensor leaf of a tree (parameters and
 * float buffers such as BN running statistics); integer tensors and plain numbers (e.g.
 * `numBatchesTracked`) are copied from `value`. Returns a new tree; nothing is disposed.
 * Official: `train_repae.update_ema` (decay 0.9999; decay 0 copies).
 * @example
 * const ema2 = emaUpdate(ema, { sit: store.sit, bn }, 0.9999)
 * @category optimizers
 */
export function emaUpdate<X>(ema: X, value: X, decay: number): X {
  // the float pairs to average, in traversal order: one foreach update for all of them
  const es: T<string>[] = [], vs: T<string>[] = [];
  let avg: T<string>[] | null = null;
  let k = 0;
  const go = (e: unknown, v: unknown, path: string): unknown => {
    if (isTensor(v)) {
      if (!isTensor(e)) throw new Error(`emaUpdate: '${path}' is a tensor in the model but not in the EMA`);
      if (e.shape.join() !== v.shape.join()) throw new Error(`emaUpdate: '${path}' has shape [${e.shape}] in the EMA and [${v.shape}] in the model`);
      if (v.dtype !== 'float32' || decay === 0) return avg === null ? null : identity(v);
      if (decay === 1) return avg === null ? null : identity(e);
      if (avg === null) {
        es.push(e);
        vs.push(v);
        return null;
      }
      return avg[k++];
    }
    if (Array.isArray(v)) return v.map((x, i) => go((e as unknown[])[i], x, `${path}.${i}`));
    if (typeof v === 'object' && v !== null) {
      const o: Record<string, unknown> = {};
      for (const [key, x] of Object.entries(v)) o[key] = go((e as Record<string, unknown>)[key], x, path === '' ? key : `${path}.${key}`);
      return o;
    }
    return v;
  };
  go(ema, value, '');
  avg = foreachEma(es, vs, decay);
  return go(ema, value, '') as X;
}

/** A fresh EMA: an exact copy of the parameters and buffers (official: `update_ema(ema, model, decay=0)`). @category optimizers */
export const emaInit = <X>(value: X): X => emaUpdate(value, value, 0);
