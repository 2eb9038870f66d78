/** @file Exponential moving average over parameters and float buffers, as explicit data. */
import { add, identity, mul } from '../core/ops/index.js';
import { tidy } from '../core/scope.js';
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
  const go = (e: unknown, v: unknown, path: string): unknown => {
    if (isTensor(v)) {
      if (!isTensor(e)) throw new Error(`emaUpdate: '${path}' is a tensor in the model but not in the EMA`);
      if (e.shape.join() !== v.shape.join()) throw new Error(`emaUpdate: '${path}' has shape [${e.shape}] in the EMA and [${v.shape}] in the model`);
      if (v.dtype !== 'float32') return identity(v);
      if (decay === 0) return identity(v);
      if (decay === 1) return identity(e);
      return tidy(() => add(mul(e, decay), mul(v, 1 - decay)));
    }
    if (Array.isArray(v)) return v.map((x, i) => go((e as unknown[])[i], x, `${path}.${i}`));
    if (typeof v === 'object' && v !== null) {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = go((e as Record<string, unknown>)[k], x, path === '' ? k : `${path}.${k}`);
      return o;
    }
    return v;
  };
  return go(ema, value, '') as X;
}

/** A fresh EMA: an exact copy of the parameters and buffers (official: `update_ema(ema, model, decay=0)`). @category optimizers */
export const emaInit = <X>(value: X): X => emaUpdate(value, value, 0);
