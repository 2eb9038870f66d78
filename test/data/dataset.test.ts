import { describe, expect, it } from 'vitest';
import { key } from '../../src/core/rng.js';
import { numTensors } from '../../src/core/scope.js';
import { arrayDataset, epochOrder, loader, mapDataset, subsetDataset } from '../../src/data/dataset.js';
import type { RgbImage } from '../../src/data/image.js';
import { centerCrop } from '../../src/data/preprocess.js';
import { drawSynthetic, syntheticClasses, syntheticDataset } from '../../src/data/synthetic.js';
import { describeEachBackend } from '../helpers/backends.js';

const img = (w: number, h: number, v: number): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) });

describe('loader', () => {
  const ds = arrayDataset('ten', Array.from({ length: 10 }, (_, i) => img(2, 2, i)), Array.from({ length: 10 }, (_, i) => i % 3), ['a', 'b', 'c']);

  it('shuffles deterministically from the key, differently per epoch, and drops the last batch', () => {
    const a = loader(ds, { batchSize: 3, key: key(7) });
    const b = loader(ds, { batchSize: 3, key: key(7) });
    expect(a.batchesPerEpoch).toBe(3);
    const ia = [...a.hostBatches(0)].map((x) => x.indices);
    expect(ia).toEqual([...b.hostBatches(0)].map((x) => x.indices));
    expect(ia).toHaveLength(3);
    expect(ia.flat()).toEqual(a.order(0).slice(0, 9));
    expect([...a.order(0)].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a.order(1)).not.toEqual(a.order(0));
    expect(loader(ds, { batchSize: 3, key: key(8) }).order(0)).not.toEqual(a.order(0));
    expect(epochOrder(10, undefined, 3)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
  it('keeps the last incomplete batch when dropLast is false', () => {
    const bs = [...loader(ds, { batchSize: 4, dropLast: false }).hostBatches(0)];
    expect(bs.map((b) => b.indices)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(bs[2]?.shape).toEqual([2, 2, 2, 3]);
  });
  it('stacks pixels NHWC with the labels of the items', () => {
    const [b] = [...loader(ds, { batchSize: 2 }).hostBatches(0)];
    expect(b?.shape).toEqual([2, 2, 2, 3]);
    expect(Array.from(b?.pixels ?? [])).toEqual([...Array(12).fill(0), ...Array(12).fill(1)]);
    expect(Array.from(b?.labels ?? [])).toEqual([0, 1]);
  });
  it('rejects mixed sizes naming both files, and crops them with mapDataset', () => {
    const mixed = arrayDataset('mixed', [img(4, 4, 1), img(6, 4, 2)], [0, 1], ['a', 'b']);
    expect(() => [...loader(mixed, { batchSize: 2 }).hostBatches(0)]).toThrow(/mixed#1: image is 6x4 but this batch is 4x4 \(mixed#0\)/);
    const cropped = mapDataset(mixed, (x) => centerCrop(x, 4));
    expect([...loader(cropped, { batchSize: 2 }).hostBatches(0)][0]?.shape).toEqual([2, 4, 4, 3]);
  });
  it('subsets keep labels and sources', () => {
    const s = subsetDataset(ds, [9, 3]);
    expect([s.length, s.label(0), s.label(1), s.source(0)]).toEqual([2, 0, 0, 'ten#9']);
    expect(() => subsetDataset(ds, [10])).toThrow(/index 10 out of range/);
  });
});

describeEachBackend('loader tensors', () => {
  it('yields int32 [B, H, W, 3] images in 0..255 and int32 labels, nothing else allocated', async () => {
    const ds = syntheticDataset({ key: key(1), length: 12 });
    const before = numTensors();
    const dl = loader(ds, { batchSize: 4, key: key(2) });
    let n = 0;
    for (const b of dl.batches(0)) {
      expect(b.images.shape).toEqual([4, 32, 32, 3]);
      expect(b.images.dtype).toBe('int32');
      expect(b.labels.dtype).toBe('int32');
      const px = await b.images.data();
      expect(Math.max(...px)).toBeLessThanOrEqual(255);
      expect(Math.min(...px)).toBeGreaterThanOrEqual(0);
      expect(Array.from(await b.labels.data())).toEqual(b.indices.map((i) => i % 10));
      expect(numTensors()).toBe(before + 2);
      b.images.dispose();
      b.labels.dispose();
      n++;
    }
    expect(n).toBe(3);
    expect(numTensors()).toBe(before);
  });
});

describe('synthetic dataset', () => {
  it('is a pure function of the key and index, with balanced labels', () => {
    const a = syntheticDataset({ key: key(0), length: 30 });
    const b = syntheticDataset({ key: key(0), length: 30 });
    const c = syntheticDataset({ key: key(1), length: 30 });
    expect(a.classes).toEqual(syntheticClasses);
    expect(a.load(17).data).toEqual(b.load(17).data);
    expect(a.load(17).data).not.toEqual(c.load(17).data);
    expect(a.load(3).data).not.toEqual(a.load(13).data); // same class, different draw
    expect(Array.from({ length: 30 }, (_, i) => a.label(i))).toEqual(Array.from({ length: 30 }, (_, i) => i % 10));
    const big = syntheticDataset({ key: key(0), length: 4, imageSize: 64 }).load(0);
    expect([big.width, big.height, big.data.length]).toEqual([64, 64, 64 * 64 * 3]);
  });
  it('pins the exact bytes of one image (cross-platform determinism)', () => {
    const d = drawSynthetic(key(42), 3, 32).data;
    let h = 2166136261;
    for (const v of d) h = Math.imul(h ^ v, 16777619) >>> 0;
    expect(h).toBe(SYNTH_HASH);
  });
  it('draws classes that differ: textures are periodic, shapes cover a fraction of the image', () => {
    const ds = syntheticDataset({ key: key(5), length: 200 });
    // fraction of pixels far from the image's median colour, per class
    const cover = new Array(10).fill(0);
    for (let i = 0; i < ds.length; i++) {
      const { data } = ds.load(i);
      const lum = Array.from({ length: 1024 }, (_, p) => (data[3 * p] as number) + (data[3 * p + 1] as number) + (data[3 * p + 2] as number));
      const sorted = [...lum].sort((x, y) => x - y);
      const med = sorted[512] as number;
      cover[i % 10] += lum.filter((v) => Math.abs(v - med) > 90).length / 1024 / 20;
    }
    for (const k of [0, 1, 2, 3, 4, 9]) expect(cover[k]).toBeLessThan(0.45); // a shape on a background
    for (const k of [5, 6, 7]) expect(cover[k]).toBeGreaterThan(0.3); // two-colour textures
    // horizontal stripes vary along y, vertical stripes along x
    const s = ds.load(5).data, v = ds.load(6).data;
    const varAlong = (d: Uint8Array, dx: number, dy: number): number => {
      let acc = 0;
      for (let y = 0; y < 31; y++)
        for (let x = 0; x < 31; x++)
          for (let c = 0; c < 3; c++) acc += Math.abs((d[3 * (y * 32 + x) + c] as number) - (d[3 * ((y + dy) * 32 + x + dx) + c] as number));
      return acc;
    };
    expect(varAlong(s, 0, 1)).toBeGreaterThan(2 * varAlong(s, 1, 0));
    expect(varAlong(v, 1, 0)).toBeGreaterThan(2 * varAlong(v, 0, 1));
  });
  it('rejects bad arguments', () => {
    expect(() => drawSynthetic(key(0), 10)).toThrow(/label 10/);
    expect(() => syntheticDataset({ key: key(0), length: 3 }).load(3)).toThrow(/out of range/);
  });
});

const SYNTH_HASH = 4051583941;
