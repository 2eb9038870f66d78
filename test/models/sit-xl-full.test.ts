/** SiT-XL/2 at full size (683M parameters): real instantiation, official counts, safetensors round trip via a file. */
import type { T } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { key } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import { leaves } from '../../src/core/tree.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/tensors.js';
import { sitFromStateDict, sitParamCount, sitToStateDict } from '../../src/io/statedict/sit.js';
import { sitConfig } from '../../src/models/sit/config.js';
import { initSit } from '../../src/models/sit/params.js';

/** A cheap fingerprint of a tensor's values (sum and a strided sample), compared exactly. */
async function fingerprint(t: T<never>): Promise<number[]> {
  const d = await t.data();
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i] as number;
  const step = Math.max(1, Math.floor(d.length / 64));
  return [s, ...Array.from({ length: Math.ceil(d.length / step) }, (_, i) => d[i * step] as number)];
}

it('SiT-XL/2: a real init has 683,242,512 parameters (incl. pos_embed) and 301 state-dict entries, and survives a safetensors file round trip', async () => {
  await useBackend('wasm');
  const cfg = sitConfig('SiT-XL/2', { zDims: [768] });
  const before = tf.memory().numTensors;
  const w = initSit(key(11), cfg);
  const n = leaves({ sit: w.sit, proj: w.proj }).reduce((a, t) => a + t.size, 0);
  expect(n).toBe(683_242_512);
  expect(sitParamCount(cfg).total).toBe(683_242_512);
  const dir = mkdtempSync(join(tmpdir(), 'sit-xl-'));
  const file = join(dir, 'sit-xl-2.safetensors');
  try {
    const sd = await sitToStateDict(w, cfg);
    expect(sd.size).toBe(28 * 10 + 21); // 10 keys per block; embedders, pos_embed, projector, final layer, BN: 21 (SiT-B/2: 12·10 + 21 = 141)
    writeSafetensorsFile(file, sd);
    sd.clear();
    expect(statSync(file).size).toBeGreaterThan(4 * 683_242_512);
    const tensorsOf = (x: typeof w) => leaves({ sit: x.sit, proj: x.proj, bn: [x.bn.runningMean, x.bn.runningVar] });
    const fps = await Promise.all(tensorsOf(w).map(fingerprint));
    dispose(w);
    const back = sitFromStateDict(readSafetensorsFile(file).entries, cfg);
    expect(await Promise.all(tensorsOf(back).map(fingerprint))).toEqual(fps);
    expect(back.bn.numBatchesTracked).toBe(w.bn.numBatchesTracked);
    dispose(back);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  expect(tf.memory().numTensors).toBe(before);
}, 900_000);
