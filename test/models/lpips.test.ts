import { tidy } from '../../src/core/scope.js';
import { constant, toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispose, numTensors } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { leaves } from '../../src/core/tree.js';
import {
  lpipsFromStateDict,
  lpipsStateDictSpec,
  lpipsToStateDict,
  readLpipsLinWeights,
  torchvisionVgg16ToLpips,
  type LinIndexEntry,
} from '../../src/io/statedict/lpips.js';
import { StateDictError } from '../../src/io/statedict/entries.js';
import { hashU32, proceduralValues, proceduralVgg16, vgg16HashSpec, type ProceduralSpec } from '../../src/models/lpips-procedural.js';
import { LPIPS_CHANNELS, lpips, lpipsLayers } from '../../src/models/lpips.js';
import { describeEachBackend } from '../helpers/backends.js';
import { goldenDir, haveGolden } from '../helpers/golden.js';

const linDir = join(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'lpips-lin', 'converted-f32');
const readLin = (net: string) =>
  readLpipsLinWeights(
    JSON.parse(readFileSync(join(linDir, `v0.1_${net}.json`), 'utf8')) as Record<string, LinIndexEntry>,
    new Uint8Array(readFileSync(join(linDir, `v0.1_${net}.bin`))),
  );
let haveLin = true;
try { readFileSync(join(linDir, 'v0.1_vgg.json')); } catch { haveLin = false; }

describe('procedural VGG16 (golden README)', () => {
  it.skipIf(!haveGolden)('spec and fingerprints (sum, abs-sum, first 4) match losses.json for all 26 tensors', () => {
    const cfg = (JSON.parse(readFileSync(join(goldenDir, 'losses.json'), 'utf8')) as { config: { lpips: { vgg_hash_spec: Record<string, ProceduralSpec>; vgg_fingerprints: Record<string, { sum: number; abs_sum: number; first4: number[] }> } } }).config.lpips;
    const spec = vgg16HashSpec();
    expect(Object.keys(spec).sort()).toEqual(Object.keys(cfg.vgg_hash_spec).sort());
    for (const [k, s] of Object.entries(spec)) {
      const ref = cfg.vgg_hash_spec[k]!;
      expect(s.seed, k).toBe(ref.seed);
      expect(s.bound, k).toBeCloseTo(ref.bound, 15);
      expect(s.shape, k).toEqual(ref.shape);
      const v = proceduralValues(s);
      const fp = cfg.vgg_fingerprints[k]!;
      let sum = 0, abs = 0;
      for (const x of v) { sum += x; abs += Math.abs(x); }
      expect(Array.from(v.subarray(0, 4)), k).toEqual(fp.first4);
      expect(Math.abs(sum - fp.sum), k).toBeLessThan(1e-9 * fp.abs_sum);
      expect(Math.abs(abs - fp.abs_sum), k).toBeLessThan(1e-9 * fp.abs_sum);
    }
    expect(hashU32(1, 0)).toBe(hashU32(1, 0) >>> 0);
  });

  it('the trunk has 14,714,688 parameters (torchvision vgg16().features[0:30])', () => {
    const spec = vgg16HashSpec();
    expect(Object.values(spec).reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0)).toBe(14_714_688);
    expect(lpipsStateDictSpec().length).toBe(2 + 26 + 5);
  });
});

describeEachBackend('LPIPS', () => {
  it.skipIf(!haveLin)('loads the v0.1 VGG lin weights; LPIPS(x, x) = 0, symmetric, positive; no leaks', async () => {
    const lin = readLin('vgg');
    expect([...lin.keys()]).toEqual(LPIPS_CHANNELS.map((_, k) => `lin${k}.model.1.weight`));
    expect(lin.get('lin3.model.1.weight')?.shape).toEqual([1, 512, 1, 1]);
    const start = numTensors();
    const lp = lpipsFromStateDict(lin, { net: proceduralVgg16() });
    expect(leaves(lp.net).reduce((a, t) => a + t.size, 0)).toBe(14_714_688);
    expect(numTensors()).toBe(start + 26 + 5 + 2);
    const x = constant(tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 1));
    const y = constant(tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 2));
    const before = numTensors();
    const dxx = lpips(lp, x, x);
    const dxy = lpips(lp, x, y);
    const dyx = lpips(lp, y, x);
    const maps = lpipsLayers(lp, x, y);
    expect(numTensors()).toBe(before + 3 + 5);
    expect(dxx.shape).toEqual([2]);
    expect(maps.map((m) => m.shape)).toEqual([[2, 16, 16, 1], [2, 8, 8, 1], [2, 4, 4, 1], [2, 2, 2, 1], [2, 1, 1, 1]]);
    expect(Array.from(await dxx.data())).toEqual([0, 0]);
    expect(await dyx.data()).toBeAllclose(await dxy.data(), 1e-5);
    expect(Math.min(...(await dxy.data()))).toBeGreaterThan(0);
    const legacy = tidy(() => [lpips(lp, x, y, { legacyRescale: true }), lpips(lp, constant(tf.sub(tf.mul(toTensor(x), 2), 1)), constant(tf.sub(tf.mul(toTensor(y), 2), 1)))]);
    expect(await legacy[0]!.data()).toBeAllclose(await legacy[1]!.data(), 1e-5);
    dispose(legacy);
    const sd = await lpipsToStateDict(lp, false);
    expect([...sd.keys()]).toEqual(lpipsStateDictSpec(false).map((e) => e.key));
    expect(Array.from(sd.get('lin2.model.1.weight')!.data)).toEqual(Array.from(lin.get('lin2.model.1.weight')!.data));
    expect(Array.from(sd.get('scaling_layer.scale')!.data)).toEqual(Array.from(Float32Array.from([0.458, 0.448, 0.45])));
    dispose([dxx, dxy, dyx, maps, x, y, lp]);
    expect(numTensors()).toBe(start);
  });

  it('a full LPIPS state dict (net.* + lin + scaling) round-trips; torchvision names convert; errors name the key', async () => {
    const start = numTensors();
    const net = proceduralVgg16();
    const lin = LPIPS_CHANNELS.map((c, k) => constant(tf.fill([1, 1, c, 1], 0.01 * (k + 1))));
    const shift = constant(tf.tensor1d([-0.03, -0.088, -0.188])), scale = constant(tf.tensor1d([0.458, 0.448, 0.45]));
    const sd = await lpipsToStateDict({ net, lin, shift, scale });
    expect([...sd.keys()]).toEqual(lpipsStateDictSpec().map((e) => e.key));
    expect(sd.get('net.slice3.14.weight')?.shape).toEqual([256, 256, 3, 3]);
    expect(Array.from(sd.get('net.slice3.14.weight')!.data as Float32Array).slice(0, 4)).toEqual(Array.from(proceduralValues(vgg16HashSpec()['slice3.14.weight']!).subarray(0, 4)));
    const lp = lpipsFromStateDict(sd);
    const sd2 = await lpipsToStateDict(lp);
    for (const k of ['net.slice1.0.weight', 'net.slice5.28.bias', 'lin4.model.1.weight', 'scaling_layer.shift']) expect(Array.from(sd2.get(k)!.data), k).toEqual(Array.from(sd.get(k)!.data));
    const tv = new Map([...sd].filter(([k]) => k.startsWith('net.')).map(([k, e]) => [k.replace(/^net\.slice\d\./, 'features.'), e] as const));
    tv.set('classifier.0.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
    const renamed = torchvisionVgg16ToLpips(tv);
    expect([...renamed.keys()]).toEqual(lpipsStateDictSpec().map((e) => e.key).filter((k) => k.startsWith('net.')));
    const bad = new Map(sd);
    bad.set('lin1.model.1.weight', { dtype: 'F32', shape: [1, 64, 1, 1], data: new Float32Array(64) });
    const before = numTensors();
    expect(() => lpipsFromStateDict(bad)).toThrow(StateDictError);
    expect(() => lpipsFromStateDict(bad)).toThrow("lpips state dict: key 'lin1.model.1.weight' has shape [1, 64, 1, 1], expected [1, 128, 1, 1]");
    expect(numTensors()).toBe(before);
    dispose([net, lin, shift, scale, lp]);
    expect(numTensors()).toBe(start);
  }, 120_000);
});
