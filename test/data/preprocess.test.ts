import { describe, expect, it } from 'vitest';
import { read, tensor } from '../../src/core/ops/create.js';
import { numTensors } from '../../src/core/scope.js';
import { centerCrop, crop, resizePil, toSignedUnit } from '../../src/data/preprocess.js';
import type { RgbImage } from '../../src/data/image.js';
import { describeEachBackend } from '../helpers/backends.js';

// A 5×3 RGB image and what Pillow 9.4 `Image.resize` returns for it (computed once with Pillow;
// `resizePil` was also checked bit-exact on random images up to 1030×777 and on `center_crop_arr`).
const row = [0, 10, 200, 50, 60, 70, 255, 0, 128, 30, 220, 90, 100, 100, 100];
const src: RgbImage = { width: 5, height: 3, data: Uint8Array.from([...row, ...row.map((v) => 255 - v), ...row]) };
const PIL_BICUBIC_3x2 = [104, 105, 131, 136, 114, 122, 115, 134, 121, 104, 105, 131, 136, 114, 122, 115, 134, 121];
const PIL_BOX_2x1 = [119, 93, 129, 107, 138, 117];
const PIL_BICUBIC_11x7_ROW0 = [0, 0, 228, 0, 0, 194, 0, 30, 110, 52, 45, 58, 192, 0, 92, 255, 0, 128, 172, 95, 113, 24, 228, 85, 22, 204, 84, 80, 116, 92, 103, 82, 96];
const PIL_BICUBIC_11x7_ROW3 = [255, 250, 43, 251, 238, 72, 237, 209, 142, 191, 197, 186, 73, 240, 157, 0, 255, 127, 90, 155, 140, 214, 43, 163, 216, 63, 164, 167, 137, 157, 148, 166, 154];

describe('resizePil (Pillow-exact)', () => {
  it('downsamples with BICUBIC and BOX as Pillow does', () => {
    expect(Array.from(resizePil(src, 3, 2, 'bicubic').data)).toEqual(PIL_BICUBIC_3x2);
    expect(Array.from(resizePil(src, 2, 1, 'box').data)).toEqual(PIL_BOX_2x1);
  });
  it('upsamples with BICUBIC as Pillow does (overshoot clipped to 0..255)', () => {
    const up = resizePil(src, 11, 7, 'bicubic');
    expect([up.width, up.height]).toEqual([11, 7]);
    expect(Array.from(up.data.subarray(0, 33))).toEqual(PIL_BICUBIC_11x7_ROW0);
    expect(Array.from(up.data.subarray(3 * 33, 4 * 33))).toEqual(PIL_BICUBIC_11x7_ROW3);
  });
  it('BOX halving is the 2×2 mean, rounded after each pass (horizontal first)', () => {
    const img: RgbImage = { width: 2, height: 2, data: Uint8Array.from([0, 1, 2, 10, 11, 12, 20, 21, 22, 31, 31, 31]) };
    // red: rows → 5, 25.5→26; column → 15.5→16 (a one-pass mean would give 15); Pillow says [16, 16, 17]
    expect(Array.from(resizePil(img, 1, 1, 'box').data)).toEqual([16, 16, 17]);
  });
  it('keeps a constant image constant and returns a copy at the same size', () => {
    const c: RgbImage = { width: 7, height: 5, data: new Uint8Array(105).fill(77) };
    expect(resizePil(c, 19, 3, 'bicubic').data.every((v) => v === 77)).toBe(true);
    const same = resizePil(c, 7, 5, 'bicubic');
    expect(same.data).not.toBe(c.data);
    expect(same.data).toEqual(c.data);
  });
});

describe('centerCrop (ADM center_crop_arr)', () => {
  const ramp = (w: number, h: number): RgbImage => {
    const d = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.set([x % 256, y % 256, (x + y) % 256], (y * w + x) * 3);
    return { width: w, height: h, data: d };
  };
  it('crops a same-height image at the floor offset without resampling', () => {
    const out = centerCrop(ramp(41, 32), 32);
    expect([out.width, out.height]).toEqual([32, 32]);
    expect(Array.from(out.data.subarray(0, 3))).toEqual([4, 0, 4]); // left offset floor(9/2) = 4
  });
  it('halves with BOX while the short side is ≥ 2·size, then resizes and crops', () => {
    const img = ramp(300, 130);
    const out = centerCrop(img, 32);
    // 300x130 → 150x65 → 75x32 (BOX twice: 65 ≥ 64), no resize needed, crop x from floor(43/2) = 21
    const manual = crop(resizePil(resizePil(img, 150, 65, 'box'), 75, 32, 'box'), 21, 0, 32, 32);
    expect(out.data).toEqual(manual.data);
    const out2 = centerCrop(ramp(300, 120), 32);
    // 300x120 → 150x60 (BOX) → bicubic to round(150·32/60)=80 x 32 → crop x from 24
    const manual2 = crop(resizePil(resizePil(ramp(300, 120), 150, 60, 'box'), 80, 32, 'bicubic'), 24, 0, 32, 32);
    expect(out2.data).toEqual(manual2.data);
    expect(out.data).toEqual(manual.data);
  });
  it('uses Python rounding (half to even) for the resized side', () => {
    // 45x18 to 8: scale 8/18, 45·8/18 = 20 exactly; 27x6 to 4: 27·4/6 = 18; 5x2 to 5 (upsample) 5·2.5 = 12.5 → 12
    const out = centerCrop(ramp(5, 2), 5);
    expect([out.width, out.height]).toEqual([5, 5]);
    const manual = crop(resizePil(ramp(5, 2), 12, 5, 'bicubic'), 3, 0, 5, 5);
    expect(out.data).toEqual(manual.data);
  });
  it('upsamples small images (CIFAR 32 → 64)', () => {
    const out = centerCrop(ramp(32, 32), 64);
    expect([out.width, out.height]).toEqual([64, 64]);
  });
});

describeEachBackend('toSignedUnit', () => {
  it('maps 0…255 to [−1, 1] as x/127.5 − 1 and leaks nothing', async () => {
    const x = tensor(Int32Array.from([0, 255, 127, 128]), [4], 'int32');
    const before = numTensors();
    const y = toSignedUnit(x);
    expect(numTensors()).toBe(before + 1);
    expect(y.dtype).toBe('float32');
    expect(await read(y)).toBeAllclose([-1, 1, 127 / 127.5 - 1, 128 / 127.5 - 1], 1e-6);
    y.dispose();
    x.dispose();
  });
});
