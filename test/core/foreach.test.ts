/**
 * The multi-tensor optimizer ops of src/core/ops/foreach.ts (foreachAdamW, foreachEma, foreachAdd,
 * foreachScale, foreachGlobalNorm) and the optimizers built on them (adamw, clipByGlobalNorm,
 * applyUpdates, emaUpdate) against the per-tensor formulas they replace, on every backend (on
 * torch: the RepaeForeach* kernels): values within 1e-6 (max-normalised), no leaked tensors, and
 * one kernel call per list where the backend registers the kernel.
 */
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { FOREACH_KERNELS, foreachAdamW, foreachAdd, foreachEma, foreachGlobalNorm, foreachScale, type AdamWScalars } from '../../src/core/ops/foreach.js';
import { dispose } from '../../src/core/scope.js';
import { fromTensor, toTensor, type T } from '../../src/core/tensor.js';
import { gradTree } from '../../src/core/tree.js';
import { emaUpdate } from '../../src/optim/ema.js';
import { adamw, applyUpdates, chain, clipByGlobalNorm } from '../../src/optim/optim.js';
import { describeEachBackend } from '../helpers/backends.js';

const SHAPES = [[3, 4], [5], [], [2, 3, 2], [7, 1]];
const wave = (shape: number[], k: number, off = 0, scale = 1): tf.Tensor =>
  tf.tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => scale * Math.sin(i * k + off)), shape);
const c = (x: tf.Tensor): T<never> => fromTensor(x);
const list = (k: number, off: number, scale = 1, abs = false): T<never>[] =>
  SHAPES.map((s, i) => c(abs ? tf.abs(wave(s, k + 0.1 * i, off + i, scale)) : wave(s, k + 0.1 * i, off + i, scale)));
const values = async (xs: readonly T<never>[]): Promise<number[]> => (await Promise.all(xs.map((x) => toTensor(x).data()))).flatMap((d) => Array.from(d));

/** The per-tensor AdamW step of optim.ts before the fusion (same kernels, same order). */
function refAdamW(g: tf.Tensor, m0: tf.Tensor | null, v0: tf.Tensor | null, p: tf.Tensor, s: AdamWScalars): tf.Tensor[] {
  return tf.tidy(() => {
    const m = m0 ?? tf.zerosLike(g), v = v0 ?? tf.zerosLike(g);
    const m1 = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
    const v1 = tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
    let u = tf.mul(tf.div(m1, tf.add(tf.div(tf.sqrt(v1), s.bc2sqrt), s.eps)), s.negStepSize);
    if (s.lrWd !== 0) u = tf.sub(u, tf.mul(p, s.lrWd));
    return [u, m1, v1];
  });
}

const scalarsAt = (step: number, lr: number, wd: number): AdamWScalars => ({
  beta1: 0.9, beta2: 0.999, eps: 1e-8, negStepSize: -lr / (1 - 0.9 ** step), bc2sqrt: Math.sqrt(1 - 0.999 ** step), lrWd: lr * wd,
});

/** Kernel names run by `f` (tf.profile). */
const kernelsOf = async (f: () => unknown): Promise<string[]> => (await tf.profile(() => { f(); return []; })).kernels.map((k) => k.name);
const nativeHere = (name: string): boolean => tf.getKernel(name, tf.getBackend()) !== undefined;

describeEachBackend('foreach optimizer ops vs the per-tensor formulas', (backend) => {
  for (const [what, moments, wd] of [['first step, no decay', false, 0], ['with moments and weight decay', true, 0.05]] as const) {
    it(`foreachAdamW, ${what}: updates and moments match, no leaks, one kernel where native`, async () => {
      const g = list(0.37, 0, 0.5), p = list(0.81, 1), m = list(0.23, 2, 0.1), v = list(0.53, 3, 0.01, true);
      const s = scalarsAt(moments ? 4 : 1, 1e-2, wd);
      const before = tf.memory().numTensors;
      const got = foreachAdamW(g, moments ? { m, v } : null, p, s);
      expect(tf.memory().numTensors).toBe(before + 3 * SHAPES.length);
      const ref = SHAPES.map((_, i) => refAdamW(toTensor(g[i]!), moments ? toTensor(m[i]!) : null, moments ? toTensor(v[i]!) : null, toTensor(p[i]!), s));
      expect(got.updates.map((x) => x.shape)).toEqual(SHAPES);
      for (const [k, name] of [[0, 'updates'], [1, 'm'], [2, 'v']] as const) {
        const mine = await values(name === 'updates' ? got.updates : name === 'm' ? got.m : got.v);
        const theirs = (await Promise.all(ref.map((r) => r[k]!.data()))).flatMap((d) => Array.from(d));
        expect(mine, `${name} on ${backend}`).toBeAllclose(theirs, 1e-6);
      }
      const names = await kernelsOf(() => dispose(foreachAdamW(g, moments ? { m, v } : null, p, s)));
      if (nativeHere(FOREACH_KERNELS.adamw)) expect(names).toEqual([FOREACH_KERNELS.adamw]);
      else expect(names.length).toBeGreaterThan(SHAPES.length);
      dispose([got, ref, g, p, m, v]);
    });
  }

  it('foreachEma, foreachAdd, foreachScale, foreachGlobalNorm match the per-tensor formulas, no leaks', async () => {
    const a = list(0.37, 0), b = list(0.61, 1, 2);
    const f = c(tf.scalar(0.3));
    const before = tf.memory().numTensors;
    const ema = foreachEma(a, b, 0.9), sum = foreachAdd(a, b), scaled = foreachScale(a, f), norm = foreachGlobalNorm(b);
    expect(tf.memory().numTensors).toBe(before + 3 * SHAPES.length + 1);
    const ra = a.map((x) => toTensor(x)), rb = b.map((x) => toTensor(x));
    const refEma = ra.map((x, i) => tf.add(tf.mul(x, 0.9), tf.mul(rb[i]!, 1 - 0.9)));
    const refSum = ra.map((x, i) => tf.add(x, rb[i]!));
    const refScaled = ra.map((x) => tf.mul(x, 0.3));
    const refNorm = tf.sqrt(tf.addN(rb.map((x) => tf.sum(tf.square(x)))));
    const flat = async (xs: tf.Tensor[]): Promise<number[]> => (await Promise.all(xs.map((x) => x.data()))).flatMap((d) => Array.from(d));
    expect(await values(ema), 'ema').toBeAllclose(await flat(refEma), 1e-6);
    expect(await values(sum), 'add').toBeAllclose(await flat(refSum), 1e-6);
    expect(await values(scaled), 'scale').toBeAllclose(await flat(refScaled), 1e-6);
    expect(norm.shape).toEqual([]);
    expect(await values([norm]), 'global norm').toBeAllclose(await flat([refNorm]), 1e-6);
    expect(foreachEma([], [], 0.5)).toEqual([]);
    expect(() => foreachAdd(a, b.slice(1))).toThrow(/5 tensors for 4 addends/);
    expect(() => foreachScale(a, a[0]!)).toThrow(/should be a scalar, got shape \[3, 4\]/);
    expect(() => foreachGlobalNorm([])).toThrow(/at least one/);
    dispose([a, b, f, ema, sum, scaled, norm, refEma, refSum, refScaled, refNorm]);
  });

  it('clip → adamw → applyUpdates and emaUpdate over a tree with leaves at different steps: the per-tensor numbers, flat tensor count, few kernels', async () => {
    // flatten order (records by key, arrays by index): a.0, a.1.0, a.1.1.b, a.1.1.s, z = SHAPES order
    type P = { readonly a: readonly [T<never>, readonly [T<never>, { readonly b: T<never>; readonly s: T<never> }]]; readonly z: T<never> };
    const tree = (l: readonly T<never>[]): P => ({ a: [l[0]!, [l[1]!, { b: l[2]!, s: l[3]! }]], z: l[4]! });
    const flatOf = (x: P): T<never>[] => [x.a[0], x.a[1][0], x.a[1][1].b, x.a[1][1].s, x.z];
    const lr = 1e-2, wd = 0.01, maxNorm = 0.5;
    const opt = chain(clipByGlobalNorm<P>(maxNorm), adamw<P>({ lr, weightDecay: wd }));
    let params = tree(list(0.81, 1));
    let state = opt.init(params);
    // the reference: raw per-tensor state
    let rp = list(0.81, 1).map((x) => toTensor(x));
    let rm: (tf.Tensor | null)[] = SHAPES.map(() => null), rv: (tf.Tensor | null)[] = SHAPES.map(() => null);
    const steps = SHAPES.map(() => 0);
    let ema = tree(list(0.81, 1)), rema = rp.map((x) => tf.clone(x));
    for (let t = 0; t < 4; t++) {
      // leaf 2 gets no gradient at step 1, leaf 4 none at steps 0 and 2: the leaves' step counts differ
      const present = SHAPES.map((_, i) => !((i === 2 && t === 1) || (i === 4 && (t === 0 || t === 2))));
      const gl = SHAPES.map((s, i) => (present[i] ? wave(s, 0.3 + 0.07 * i + 0.05 * t, t + i, 0.4) : null));
      const grads = gradTree(params, gl.map((x) => (x === null ? null : c(x))));
      const before = tf.memory().numTensors;
      const kernels = await kernelsOf(() => {
        const [u, s1] = opt.update(grads, state, params);
        const p1 = applyUpdates(params, u);
        const e1 = emaUpdate(ema, p1, 0.9);
        dispose([u, ema, s1[0].norm]);
        // the old parameters and moments that the new ones do not carry over
        const keep = new Set<T<never>>([...flatOf(p1), ...stateTensors(s1[1])]);
        dispose([...flatOf(params), ...stateTensors(state[1])].filter((x) => !keep.has(x)));
        state = s1;
        params = p1;
        ema = e1;
      });
      // nothing but the moments of the leaves that get their first gradient now
      const fresh = SHAPES.filter((_, i) => present[i] && rm[i] === null).length;
      expect(tf.memory().numTensors, `live tensors after step ${t}`).toBe(before + 2 * fresh);
      if (nativeHere(FOREACH_KERNELS.adamw)) {
        // norm, factor (3), scale, one AdamW per step group, add, EMA
        const groups = new Set(SHAPES.flatMap((_, i) => (present[i] ? [`${steps[i]}/${rm[i] !== null}`] : []))).size;
        expect(kernels.length, kernels.join(' ')).toBe(1 + 3 + 1 + groups + 1 + 1);
      }
      // the reference step
      const live = gl.filter((x): x is tf.Tensor => x !== null);
      const norm = tf.sqrt(tf.addN(live.map((x) => tf.sum(tf.square(x)))));
      const factor = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
      rp = rp.map((p, i) => {
        const g = gl[i];
        if (g === null || g === undefined) return p;
        steps[i]! += 1;
        const gs = tf.mul(g, factor);
        const [u, m1, v1] = refAdamW(gs, rm[i]!, rv[i]!, p, scalarsAt(steps[i]!, lr, wd));
        tf.dispose([gs, rm[i]!, rv[i]!]);
        rm[i] = m1!;
        rv[i] = v1!;
        const p1 = tf.add(p, u!);
        tf.dispose([u!, p]);
        return p1;
      });
      rema = rema.map((e, i) => {
        const e1 = tf.add(tf.mul(e, 0.9), tf.mul(rp[i]!, 1 - 0.9));
        e.dispose();
        return e1;
      });
      tf.dispose([norm, factor, ...live]);
      const flatP = flatOf(params), flatE = flatOf(ema);
      const ref = async (xs: tf.Tensor[]): Promise<number[]> => (await Promise.all(xs.map((x) => x.data()))).flatMap((d) => Array.from(d));
      expect(await values(flatP), `parameters after step ${t} on ${backend}`).toBeAllclose(await ref(rp), 1e-6);
      expect(await values(flatE), `EMA after step ${t} on ${backend}`).toBeAllclose(await ref(rema), 1e-6);
    }
    expect(state[1].a[1][1].b.step).toBe(3);
    expect(state[1].z.step).toBe(2);
    expect(state[1].a[0].step).toBe(4);
    dispose([params, ema, stateTensors(state[1])]);
    tf.dispose([...rp, ...rema, ...rm.filter((x): x is tf.Tensor => x !== null), ...rv.filter((x): x is tf.Tensor => x !== null)]);
  });
});

/** The moment tensors of an AdamW state (to dispose the old state after a step). */
function stateTensors(s: unknown): T<never>[] {
  const out: T<never>[] = [];
  const walk = (x: unknown): void => {
    if (x === null || typeof x !== 'object') return;
    if ('step' in x && 'm' in x && 'v' in x) {
      const l = x as { m: T<never> | null; v: T<never> | null };
      if (l.m !== null) out.push(l.m);
      if (l.v !== null) out.push(l.v);
      return;
    }
    for (const v of Object.values(x)) walk(v);
  };
  walk(s);
  return out;
}
