import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resizeBilinear } from '../../src/core/ops/conv.js';
import { key, uniformArray } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import { constant } from '../../src/core/tensor.js';
import { writeNpz } from '../../src/io/npz.js';
import { countValues, StateDictError, type StateDict } from '../../src/io/statedict/entries.js';
import { inceptionFromStateDict, inceptionStateDictSpec, inceptionToStateDict } from '../../src/io/statedict/inception.js';
import { writeSafetensorsFile } from '../../src/io/tensors.js';
import { avgPool3NoPad, foldInception, inceptionBlocks, inceptionFeatures, initInception, INCEPTION_CONVS, type InceptionDims, type InceptionParams } from '../../src/metrics/inception.js';
import { describeEachBackend } from '../helpers/backends.js';

const tmp = mkdtempSync(join(tmpdir(), 'repae-inception-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const sameValues = (a: ArrayLike<number>, b: ArrayLike<number>): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};
const haveNumpy = (() => {
  try { execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

describe('FID Inception state dict (pytorch-fid names)', () => {
  it('has torchvision Inception3 (aux_logits=False) parameters: 94 BasicConv2d, 21,785,568 trunk parameters', () => {
    expect(INCEPTION_CONVS).toHaveLength(94);
    const spec = inceptionStateDictSpec({ fc: false });
    const params = spec.filter((s) => !/running_(mean|var)$/.test(s.key)).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    // torchvision inception_v3(): 27,161,264 parameters = trunk + AuxLogits (3,326,696) + fc 2048→1000 (2,049,000)
    expect(params).toBe(27_161_264 - 3_326_696 - 2_049_000);
    const full = inceptionStateDictSpec({ numBatchesTracked: true });
    expect(full).toHaveLength(94 * 6 + 2);
    expect(full.slice(0, 6).map((s) => s.key)).toEqual([
      'Conv2d_1a_3x3.conv.weight', 'Conv2d_1a_3x3.bn.weight', 'Conv2d_1a_3x3.bn.bias', 'Conv2d_1a_3x3.bn.running_mean', 'Conv2d_1a_3x3.bn.running_var', 'Conv2d_1a_3x3.bn.num_batches_tracked',
    ]);
    const shape = (k: string): readonly number[] | undefined => full.find((s) => s.key === k)?.shape;
    expect(shape('Mixed_6b.branch7x7_2.conv.weight')).toEqual([128, 128, 1, 7]);
    expect(shape('Mixed_7c.branch3x3dbl_3b.conv.weight')).toEqual([384, 384, 3, 1]);
    expect(shape('Mixed_5b.branch_pool.conv.weight')).toEqual([32, 192, 1, 1]);
    expect(shape('fc.weight')).toEqual([1008, 2048]);
  });

});

describeEachBackend('FID Inception forward', (backend) => {
  let params: InceptionParams<never> | undefined;
  beforeAll(() => { params = initInception(key(0)); });
  afterAll(() => dispose(params));
  const shared = (): InceptionParams<never> => params as InceptionParams<never>;

  it('round-trips through a state dict; missing, mis-shaped and unexpected keys are named', async () => {
    const before = tf.memory().numTensors;
    const sd = await inceptionToStateDict(shared(), { numBatchesTracked: true });
    expect([...sd.keys()]).toEqual(inceptionStateDictSpec({ numBatchesTracked: true }).map((s) => s.key));
    expect(countValues(sd)).toBe(inceptionStateDictSpec({ numBatchesTracked: true }).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0));
    const q = inceptionFromStateDict(sd);
    const sd2 = await inceptionToStateDict(q, { numBatchesTracked: true });
    for (const [k, e] of sd) expect(sameValues(sd2.get(k)!.data, e.data), k).toBe(true);
    const missing: StateDict = new Map(sd); missing.delete('Mixed_6e.branch7x7dbl_3.bn.running_var');
    expect(() => inceptionFromStateDict(missing)).toThrow(/inception state dict: missing key 'Mixed_6e\.branch7x7dbl_3\.bn\.running_var' \(expected shape \[192\]\)/);
    const wrong: StateDict = new Map(sd); wrong.set('Mixed_6b.branch7x7_2.conv.weight', { dtype: 'F32', shape: [128, 128, 7, 1], data: sd.get('Mixed_6b.branch7x7_2.conv.weight')!.data });
    expect(() => inceptionFromStateDict(wrong)).toThrow(StateDictError);
    expect(() => inceptionFromStateDict(wrong)).toThrow(/'Mixed_6b\.branch7x7_2\.conv\.weight' has shape \[128, 128, 7, 1\], expected \[128, 128, 1, 7\]/);
    const extra: StateDict = new Map(sd); extra.set('AuxLogits.fc.weight', { dtype: 'F32', shape: [1], data: [0] });
    expect(() => inceptionFromStateDict(extra)).toThrow(/unexpected key 'AuxLogits\.fc\.weight'/);
    const noFc: StateDict = new Map([...sd].filter(([k]) => !k.startsWith('fc.')));
    const r = inceptionFromStateDict(noFc);
    expect(r.fc).toBeUndefined();
    dispose([q, r]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('avgPool3NoPad divides by the real pixels of each window (count_include_pad=False)', async () => {
    const x = constant(tf.tensor(Float32Array.from({ length: 12 }, (_, i) => i + 1), [1, 3, 4, 1]));
    const y = avgPool3NoPad(x);
    const v = await y.data();
    const ref = (i: number, j: number): number => {
      let s = 0, c = 0;
      for (let a = i - 1; a <= i + 1; a++) for (let b = j - 1; b <= j + 1; b++) if (a >= 0 && a < 3 && b >= 0 && b < 4) { s += a * 4 + b + 1; c++; }
      return s / c;
    };
    expect([...v]).toBeAllclose(Array.from({ length: 12 }, (_, k) => ref(Math.floor(k / 4), k % 4)), 1e-6);
    dispose([x, y]);
  });

  it('resizes like F.interpolate(bilinear, align_corners=False) without antialiasing', async () => {
    const h = 5, w = 7, H = 12, W = 4;
    const src = Float32Array.from({ length: h * w }, (_, i) => Math.sin(i) * 3);
    const x = constant(tf.tensor(src, [1, h, w, 1]));
    const y = resizeBilinear(x, [H, W]);
    const axis = (inn: number, out: number, o: number): [number, number, number] => {
      const s = Math.max(((o + 0.5) * inn) / out - 0.5, 0), i0 = Math.floor(s);
      return [i0, Math.min(i0 + 1, inn - 1), s - i0];
    };
    const want = Array.from({ length: H * W }, (_, k) => {
      const [y0, y1, ly] = axis(h, H, Math.floor(k / W)), [x0, x1, lx] = axis(w, W, k % W);
      const at = (a: number, b: number): number => src[a * w + b]!;
      return (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
    });
    expect([...(await y.data())]).toBeAllclose(want, 1e-6);
    dispose([x, y]);
  });

  // The full-network comparison runs once, on the CPU default backend (wasm): minutes on the pure-JS
  // reference and on software WebGPU; the other backends are tied to wasm by the equivalence tests.
  if (backend === 'wasm') it.skipIf(!haveNumpy)('matches an independent NumPy transcription of pytorch-fid at every block (generated weights, non-trivial BatchNorm)', async () => {
    const before = tf.memory().numTensors;
    const sd = await inceptionToStateDict(shared());
    sd.delete('fc.weight');
    sd.delete('fc.bias');
    // non-trivial BatchNorm statistics, so folding is exercised
    let s = 0;
    for (const [k, e] of sd) {
      if (!k.includes('.bn.')) continue;
      const u = uniformArray(key(100 + s++), e.data.length);
      const f = k.endsWith('weight') ? (v: number) => 0.5 + v : k.endsWith('running_var') ? (v: number) => 0.5 + 1.5 * v : (v: number) => 0.2 * (v - 0.5);
      sd.set(k, { dtype: 'F32', shape: e.shape, data: Float32Array.from(u, f) });
    }
    const wPath = join(tmp, 'inception.safetensors'), xPath = join(tmp, 'x.npz');
    writeSafetensorsFile(wPath, sd);
    const [n, h, w] = [1, 80, 77]; // non-square, so a swapped H/W or kernel orientation shows
    const img = Float32Array.from(uniformArray(key(7), n * h * w * 3));
    writeNpz(xPath, { x: { dtype: 'float32', shape: [n, h, w, 3], data: img } });
    const ref = JSON.parse(execFileSync('python3', [join(import.meta.dirname, 'inception_ref.py'), wPath, xPath], { encoding: 'utf8', maxBuffer: 1 << 26 })) as Record<string, number[][]>;
    const raw = inceptionFromStateDict(sd);
    const folded = foldInception(raw);
    dispose(raw);
    const x = constant(tf.tensor(img, [n, h, w, 3]));
    const blocks = inceptionBlocks(folded, x, { input: 'unit', resize: false });
    for (const dims of [64, 192, 768, 2048] as InceptionDims[]) {
      const f = blocks[dims]!;
      expect(f.shape).toEqual([n, dims]);
      expect([...(await f.data())], `dims ${dims}`).toBeAllclose(ref[String(dims)]!.flat(), 2e-5);
    }
    const only = inceptionFeatures(folded, x, { input: 'unit', resize: false, dims: 192 });
    expect([...(await only.data())]).toEqual([...(await blocks[192]!.data())]);
    dispose([blocks, only]);
    dispose([folded, x]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects inputs below 75×75 without resizing', () => {
    const x = constant(tf.zeros([1, 64, 64, 3]));
    expect(() => inceptionFeatures({ convs: {} }, x, { resize: false })).toThrow(/64×64 is below the 75×75 minimum/);
    x.dispose();
  });
});
