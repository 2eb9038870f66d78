/** The built-in REPA target encoder is pre-trained with repae's own valueAndGrad and AdamW: it learns, deterministically, without leaking tensors. */
import { expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { read } from '../../src/core/ops/index.js';
import { disposeTree, flatten } from '../../src/core/tree.js';
import { numTensors } from '../../src/core/scope.js';
import { decodeRunConfig } from '../../src/train/config.js';
import { openDataset, setupRun, trainTinyEncoder } from '../../src/train/run.js';

it('trainTinyEncoder: the loss falls, two runs agree bit for bit, no tensor leaks', async () => {
  await useBackend('wasm');
  const cfg = decodeRunConfig({
    outputDir: '/tmp/unused', expName: 'run', backend: 'wasm', dataDir: 'builtin:shapes:64', resolution: 16, batchSize: 16, sitDepth: 2, sitHidden: 32, sitHeads: 2,
    encoderDepth: 1, projectorDim: 32, patchSize: 4, vaeCh: 32, vaeChMult: [1, 1], discNdf: 4, discLayers: 1, perceptualWeight: 0,
  });
  const data = openDataset(cfg);
  const setup = setupRun(cfg, 96);
  const before = numTensors();
  const lines: string[] = [];
  const a = await trainTinyEncoder(data, setup, 30, (s) => lines.push(s));
  const b = await trainTinyEncoder(data, setup, 30, () => {});
  expect(numTensors() - before).toBe(2 * flatten(a).length);
  const loss = lines.map((l) => Number(/loss ([\d.]+)/.exec(l)?.[1]));
  expect(loss.length).toBeGreaterThanOrEqual(2);
  expect(loss.at(-1)!).toBeLessThan(0.8 * loss[0]!);
  const fa = flatten(a), fb = flatten(b);
  for (let i = 0; i < fa.length; i++) expect([...(await read(fa[i]!.leaf!))]).toEqual([...(await read(fb[i]!.leaf!))]);
  disposeTree([a, b]);
  expect(numTensors()).toBe(before);
});
