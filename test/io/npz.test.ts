import * as tf from '@tensorflow/tfjs-core';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy, openNpz, openSamplesNpz, readNpz, writeNpz, type NpyArray } from '../../src/io/npz.js';
import { toUint8 } from '../../src/io/png.js';
import { describeEachBackend } from '../helpers/backends.js';

const tmp = mkdtempSync(join(tmpdir(), 'repae-npz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const haveNumpy = (() => {
  try { execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }); return true; } catch { return false; }
})();
const py = (code: string, ...args: string[]): string => execFileSync('python3', ['-c', code, ...args], { encoding: 'utf8' }).trim();

const arrays: Record<string, NpyArray> = {
  arr_0: { dtype: 'uint8', shape: [2, 3, 4, 3], data: Uint8Array.from({ length: 72 }, (_, i) => (i * 13) % 256) },
  f: { dtype: 'float32', shape: [3], data: [1.5, -2, 3.25] },
  d: { dtype: 'float64', shape: [], data: [Math.PI] },
  i: { dtype: 'int64', shape: [2, 1], data: [-5, 2 ** 40] },
  j: { dtype: 'int32', shape: [0, 2], data: [] },
};

describe('npy / npz', () => {
  it('npy headers are 64-byte aligned v1.0 dict literals, and encode/decode round-trips', () => {
    for (const a of Object.values(arrays)) {
      const b = encodeNpy(a);
      const hl = new DataView(b.buffer).getUint16(8, true);
      expect((10 + hl) % 64).toBe(0);
      const back = decodeNpy(b);
      expect(back.dtype).toBe(a.dtype);
      expect(back.shape).toEqual(a.shape);
      expect([...back.data]).toEqual(Array.from(a.data));
    }
    expect(new TextDecoder().decode(encodeNpy(arrays['arr_0']!).subarray(10, 80))).toMatch(/^\{'descr': '\|u1', 'fortran_order': False, 'shape': \(2, 3, 4, 3\), \}/);
    expect(new TextDecoder().decode(encodeNpy(arrays['f']!).subarray(10, 70))).toContain(`'shape': (3,), }`);
  });

  it.each(['auto', 'always'] as const)('writeNpz → readNpz round-trips (zip64: %s), atomically', (zip64) => {
    const p = join(tmp, `a-${zip64}.npz`);
    writeNpz(p, arrays, { zip64 });
    const back = readNpz(new Uint8Array(readFileSync(p)), p);
    expect([...back.keys()]).toEqual(Object.keys(arrays));
    for (const [k, a] of Object.entries(arrays)) expect([...back.get(k)!.data]).toEqual(Array.from(a.data));
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('reads archives written by other zip writers (deflated members)', () => {
    const z = zipSync({ 'arr_0.npy': encodeNpy(arrays['f']!) }, { level: 6 });
    expect([...readNpz(z).get('arr_0')!.data]).toEqual([1.5, -2, 3.25]);
  });

  it('a short or overfull array is refused and leaves no file behind', () => {
    const p = join(tmp, 'short.npz');
    const w = openNpz(p);
    w.begin('arr_0', 'uint8', [4]);
    w.write(new Uint8Array(2));
    expect(() => w.write(new Uint8Array(3))).toThrow(/array 'arr_0' would get 5 of 132 bytes|would get/);
    expect(() => w.close()).toThrow(/array 'arr_0' got \d+ of \d+ bytes/);
    expect(existsSync(p)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.startsWith('short'))).toEqual([]);
  });

  it.skipIf(!haveNumpy)('NumPy reads what we write (np.load, zip64 auto and always), and we read np.savez', () => {
    const p = join(tmp, 'np-auto.npz'), p64 = join(tmp, 'np-always.npz'), q = join(tmp, 'from-numpy.npz');
    writeNpz(p, arrays);
    writeNpz(p64, arrays, { zip64: 'always' });
    const got = py(
      `import numpy as np, sys, zipfile
for path in sys.argv[1:3]:
    f = np.load(path)
    print(sorted(f.files), f['arr_0'].dtype, f['arr_0'].shape, int(f['arr_0'].astype(np.int64).sum()), f['f'].tolist(), float(f['d']), f['i'].tolist(), f['j'].shape, zipfile.ZipFile(path).testzip())
np.savez(sys.argv[3], np.arange(24, dtype=np.uint8).reshape(2, 4, 3), x=np.array([0.5, 1e-3], dtype=np.float16))`, p, p64, q);
    const sum = Array.from(arrays['arr_0']!.data).reduce((a, b) => a + b, 0);
    const line = `['arr_0', 'd', 'f', 'i', 'j'] uint8 (2, 3, 4, 3) ${sum} [1.5, -2.0, 3.25] ${Math.PI} [[-5], [${2 ** 40}]] (0, 2) None`;
    expect(got).toBe(`${line}\n${line}`);
    const back = readNpz(new Uint8Array(readFileSync(q)));
    expect(back.get('arr_0')!.shape).toEqual([2, 4, 3]);
    expect([...back.get('arr_0')!.data]).toEqual(Array.from({ length: 24 }, (_, i) => i));
    expect([...back.get('x')!.data]).toEqual([0.5, 0.0010004043579101562]);
  });
});

describeEachBackend('npz samples', () => {
  it('openSamplesNpz streams batches into arr_0 [N, H, W, 3] uint8, truncating floats like generate.py', async () => {
    const p = join(tmp, 'samples.npz');
    const out = openSamplesNpz(p, { n: 5, height: 4, width: 3 });
    const b1 = tf.randomUniform([2, 4, 3, 3], -1.2, 1.2, 'float32', 1);
    const b2 = tf.randomUniform([3, 4, 3, 3], -1.2, 1.2, 'float32', 2);
    await out.add(b1);
    await out.add(b2);
    expect(out.count()).toBe(5);
    out.close();
    const a = readNpz(new Uint8Array(readFileSync(p))).get('arr_0')!;
    expect(a.dtype).toBe('uint8');
    expect(a.shape).toEqual([5, 4, 3, 3]);
    const want = toUint8(new Float32Array([...(await b1.data()), ...(await b2.data())]));
    expect([...a.data]).toEqual([...want]);
    tf.dispose([b1, b2]);
    const bad = openSamplesNpz(join(tmp, 'bad.npz'), { n: 2, height: 4, width: 3 });
    await expect(bad.add({ data: new Uint8Array(2 * 4 * 4 * 3), shape: [2, 4, 4, 3] })).rejects.toThrow(/batch of \[2, 4, 4, 3\] images, file holds \[2, 4, 3, 3\]/);
    const short = openSamplesNpz(join(tmp, 'short2.npz'), { n: 2, height: 1, width: 1 });
    await short.add({ data: new Uint8Array(3), shape: [1, 1, 1, 3] });
    expect(() => short.close()).toThrow(/closed after 1 of 2 images/);
    expect(readdirSync(tmp).filter((f) => f.startsWith('bad') || f.startsWith('short2'))).toEqual([]);
  });

});
