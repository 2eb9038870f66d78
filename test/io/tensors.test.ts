import { toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SafetensorsError, type SafeEntry } from '../../src/io/safetensors.js';
import { fromSafeEntry, readSafetensorsFile, toSafeEntries, toSafeEntry, writeSafetensorsFile } from '../../src/io/tensors.js';
import { describeEachBackend } from '../helpers/backends.js';

const tmp = mkdtempSync(join(tmpdir(), 'repae-tensors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describeEachBackend('tensor ↔ safetensors entries', () => {
  it('round-trips float32, int32 and bool tensors (0-d too) through a file, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const ts = {
      w: tf.tensor([[1.5, -2], [3, 4e-8]]),
      scalar: tf.scalar(0.25),
      idx: tf.tensor([1, -7, 2 ** 30], [3], 'int32'),
      mask: tf.tensor([true, false, true], [3], 'bool'),
      empty: tf.zeros([0, 3]),
    };
    const entries = await toSafeEntries(ts);
    expect([...entries].map(([k, e]) => [k, e.dtype, e.shape])).toEqual([
      ['w', 'F32', [2, 2]], ['scalar', 'F32', []], ['idx', 'I32', [3]], ['mask', 'BOOL', [3]], ['empty', 'F32', [0, 3]],
    ]);
    const p = join(tmp, 'ts.safetensors');
    writeSafetensorsFile(p, entries);
    const back = readSafetensorsFile(p);
    for (const [k, t] of Object.entries(ts)) {
      const u = fromSafeEntry(back.entries.get(k)!, { name: k });
      expect(u.dtype).toBe(t.dtype);
      expect(u.shape).toEqual(t.shape);
      expect([...(await u.data())]).toEqual([...(await t.data())]);
      u.dispose();
    }
    tf.dispose(Object.values(ts));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stores F16/BF16/I64 on request and reads them back as float32/int32', async () => {
    const t = tf.tensor([1, 2.5, -3, 65504]);
    const h = await toSafeEntry(t, 'F16'), b = await toSafeEntry(t, 'BF16');
    const p = join(tmp, 'half.safetensors');
    writeSafetensorsFile(p, { h, b, l: { dtype: 'I64', shape: [2], data: [5, -6] } });
    const f = readSafetensorsFile(p);
    const [uh, ub, ul] = [fromSafeEntry(f.entries.get('h')!), fromSafeEntry(f.entries.get('b')!), fromSafeEntry(f.entries.get('l')!)];
    expect([...(await uh.data())]).toEqual([1, 2.5, -3, 65504]);
    expect([...(await ub.data())]).toEqual([1, 2.5, -3, 65536]); // BF16 has 8 significant bits
    expect(ul.dtype).toBe('int32');
    expect([...(await ul.data())]).toEqual([5, -6]);
    tf.dispose([t, toTensor(uh), toTensor(ub), toTensor(ul)]);
  });

  it('names the key when an I64 value does not fit in int32, and the file on write errors', () => {
    const e: SafeEntry = { dtype: 'I64', shape: [2], data: new Float64Array([1, 2 ** 40]) };
    expect(() => fromSafeEntry(e, { name: 'steps' })).toThrow(/key 'steps': I64 value 1099511627776 at flat index 1 does not fit in int32/);
    const p = join(tmp, 'bad.safetensors');
    let err: unknown;
    try { writeSafetensorsFile(p, { 'ema.w': { dtype: 'U8', shape: [1], data: [300] } }); } catch (x) { err = x; }
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as SafetensorsError).message).toBe(`${p}: write: key 'ema.w': value 300 at flat index 0 is not representable as U8`);
    expect((err as SafetensorsError).key).toBe('ema.w');
  });
});
