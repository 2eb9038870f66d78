import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { constant } from '../../src/core/tensor.js';
import { decodePng } from '../../src/io/png.js';
import { latentPcaImages } from '../../src/metrics/pca-image.js';
import { latentPcaPng } from '../../src/io/pca-png.js';
import { describeEachBackend } from '../helpers/backends.js';

/** A latent [1, h, w, 4] = 4·x·u1 + 2·y·u2 + (x·y parity)·u3 + const, with orthonormal u1, u2, u3 in R⁴. */
function structured(h: number, w: number): Float64Array {
  const u1 = [0.5, 0.5, 0.5, 0.5], u2 = [0.5, -0.5, 0.5, -0.5], u3 = [0.5, 0.5, -0.5, -0.5];
  const z = new Float64Array(h * w * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 4; c++) {
        const a = 4 * (x - (w - 1) / 2), b = 2 * (y - (h - 1) / 2), p = (x + y) % 2 ? 0.5 : -0.5;
        z[(y * w + x) * 4 + c] = a * u1[c]! + b * u2[c]! + p * u3[c]! + 10;
      }
  return z;
}

describe('latent PCA images', () => {
  it('recovers the three strongest spatial patterns as R, G, B, scaled to [0, 255]', async () => {
    const h = 6, w = 8;
    const [img] = await latentPcaImages({ data: structured(h, w), shape: [1, h, w, 4] });
    expect([img!.width, img!.height, img!.channels]).toEqual([w, h, 3]);
    const px = (x: number, y: number, q: number): number => img!.data[(y * w + x) * 3 + q]!;
    // R follows x (largest variance), G follows y, B the checkerboard; signs are fixed (largest entry positive → increasing)
    for (let y = 0; y < h; y++) expect(Array.from({ length: w }, (_, x) => px(x, y, 0))).toEqual(Array.from({ length: w }, (_, x) => Math.round((255 * x) / (w - 1))));
    for (let x = 0; x < w; x++) expect(Array.from({ length: h }, (_, y) => px(x, y, 1))).toEqual(Array.from({ length: h }, (_, y) => Math.round((255 * y) / (h - 1))));
    expect(new Set(Array.from({ length: h * w }, (_, p) => img!.data[p * 3 + 2]))).toEqual(new Set([0, 255]));
  });

  it('upsamples by an integer factor, handles C < 3 and constant latents, and tiles a PNG grid', async () => {
    const z = Float64Array.from({ length: 2 * 3 * 3 * 2 }, (_, k) => (k < 18 ? k % 5 : 1));
    const imgs = await latentPcaImages({ data: z, shape: [2, 3, 3, 2] }, { scale: 4 });
    expect(imgs.map((i) => [i.width, i.height])).toEqual([[12, 12], [12, 12]]);
    expect(imgs[1]!.data.every((v) => v === 0)).toBe(true); // constant latent: no variance
    expect(Array.from({ length: 144 }, (_, p) => imgs[0]!.data[p * 3 + 2]).every((v) => v === 0)).toBe(true); // C = 2: no third component
    const png = decodePng(await latentPcaPng({ data: z, shape: [2, 3, 3, 2] }, { scale: 4, nrow: 2, pad: 1 }));
    expect([png.width, png.height, png.channels]).toEqual([2 * 13 + 1, 14, 3]);
    const batch = await latentPcaImages({ data: z, shape: [2, 3, 3, 2] }, { fit: 'batch' });
    expect(batch).toHaveLength(2);
    await expect(latentPcaImages({ data: z, shape: [36] })).rejects.toThrow(/expected \[N, h, w, C\] or \[h, w, C\]/);
  });
});

describeEachBackend('latent PCA from tensors', () => {
  it('accepts an [h, w, C] tensor and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const t = constant(tf.tensor(Float32Array.from(structured(4, 4)), [4, 4, 4]));
    const [img] = await latentPcaImages(t);
    expect(img!.width).toBe(4);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
