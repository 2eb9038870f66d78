import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodePng, encodePng, gridImage, ImageError, imageGrid, toUint8, writePng, type Image } from '../../src/io/png.js';
import { describeEachBackend } from '../helpers/backends.js';

const tmp = mkdtempSync(join(tmpdir(), 'repae-png-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ramp = (w: number, h: number, c: 1 | 3 | 4): Image => ({ width: w, height: h, channels: c, data: Uint8Array.from({ length: w * h * c }, (_, i) => (i * 37 + 11) % 256) });

describe('png', () => {
  it('round-trips gray, RGB and RGBA images', () => {
    for (const c of [1, 3, 4] as const) {
      const img = ramp(7, 5, c);
      const bytes = encodePng(img);
      expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(decodePng(bytes)).toEqual(img);
    }
    expect(decodePng(encodePng(ramp(3, 2, 1)), { channels: 3 }).data.subarray(0, 3)).toEqual(new Uint8Array([11, 11, 11]));
  });

  it('rejects bad inputs with a clear error', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) })).toThrow(/5 bytes for 2×2×3/);
    expect(() => decodePng(new Uint8Array([1, 2, 3]), { file: 'x.png' })).toThrow(ImageError);
    expect(() => decodePng(new Uint8Array([1, 2, 3]), { file: 'x.png' })).toThrow(/^x\.png: not a readable PNG/);
  });

  it('toUint8 truncates in float32 like the official export (spec gotcha 14)', () => {
    expect([...toUint8([-1, 0, 1, 0.999, 1.5, -2, NaN, Infinity, -Infinity])]).toEqual([0, 127, 255, 254, 255, 0, 0, 255, 0]);
    // x = float32(2k/255 − 1): NumPy/PyTorch float32 gives k − 1 for these k (by truncation); float64 math would differ for 32 of them
    const drop = '0111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111110000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000';
    const xs = Float32Array.from({ length: 256 }, (_, k) => (2 * k) / 255 - 1);
    expect([...toUint8(xs)]).toEqual(Array.from({ length: 256 }, (_, k) => k - Number(drop[k])));
  });

  it('grid layout: nrow per row, pad around and between, padValue in the gaps', () => {
    const n = 5, h = 2, w = 3, c = 3;
    const data = new Uint8Array(n * h * w * c);
    for (let k = 0; k < n; k++) data.fill(10 * (k + 1), k * h * w * c, (k + 1) * h * w * c);
    const g = gridImage({ data, shape: [n, h, w, c] }, { nrow: 3, pad: 1, padValue: 255 });
    expect([g.width, g.height, g.channels]).toEqual([3 * (w + 1) + 1, 2 * (h + 1) + 1, 3]);
    const px = (x: number, y: number): number => g.data[(y * g.width + x) * 3] as number;
    expect(px(0, 0)).toBe(255);
    expect(px(1, 1)).toBe(10); // image 0 top-left
    expect(px(3, 2)).toBe(10); // image 0 bottom-right
    expect(px(4, 1)).toBe(255); // gap
    expect(px(5, 1)).toBe(20); // image 1
    expect(px(9, 1)).toBe(30); // image 2
    expect(px(1, 4)).toBe(40); // image 3, second row
    expect(px(5, 4)).toBe(50); // image 4
    expect(px(9, 4)).toBe(255); // empty slot
    expect(gridImage({ data: data.subarray(0, 2 * h * w * c), shape: [2, h, w, c] }, { nrow: 8, pad: 0 }).width).toBe(2 * w);
  });

  it('writePng is atomic (no temporary left) and decodes back', () => {
    const p = join(tmp, 'a.png');
    writePng(p, ramp(4, 4, 3));
    expect(decodePng(new Uint8Array(readFileSync(p)))).toEqual(ramp(4, 4, 3));
    expect(readdirSync(tmp)).toEqual(['a.png']);
  });
});

describeEachBackend('imageGrid from tensors', () => {
  it('float32 in [-1, 1] and int32 uint8 tensors give the same grid, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const u8 = Uint8Array.from({ length: 4 * 3 * 3 * 3 }, (_, i) => (i * 7) % 256);
    const floats = Float32Array.from(u8, (v) => (v + 0.5) / 127.5 - 1); // truncates back to v
    const tf32 = tf.tensor(floats, [4, 3, 3, 3]), ti32 = tf.tensor(Int32Array.from(u8), [4, 3, 3, 3], 'int32');
    const a = await imageGrid(tf32, { nrow: 2 }), b = await imageGrid(ti32, { nrow: 2 });
    const c = await imageGrid({ data: u8, shape: [4, 3, 3, 3] }, { nrow: 2 });
    expect(a).toEqual(b);
    expect(a).toEqual(c);
    expect(decodePng(a)).toEqual(gridImage({ data: u8, shape: [4, 3, 3, 3] }, { nrow: 2 }));
    tf.dispose([tf32, ti32]);
    expect(tf.memory().numTensors).toBe(before);
    const bad = tf.zeros([3, 3, 3]);
    await expect(imageGrid(bad)).rejects.toThrow(/NHWC \(rank 4\)/);
    bad.dispose();
  });
});
