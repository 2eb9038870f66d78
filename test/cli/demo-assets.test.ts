/** The shipped demo assets (assets/demo-init): made by the committed command with its defaults, and as good as the demo needs (a judge that knows the classes, a VAE whose reconstructions it recognises). */
import { expect, it } from 'vitest';
import { useBestBackend } from '../../src/backends/index.js';
import { demoAssetsDir, DEMO_ASSET_DEFAULTS, loadDemoAssets } from '../../src/cli/demo-assets.js';
import { demoConfig, DEMO_PHASES } from '../../src/cli/demo-config.js';
import { key } from '../../src/core/rng.js';
import { releaseOld, numTensors, tidy } from '../../src/core/scope.js';
import { clip, read } from '../../src/core/ops/index.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { vaeFromStateDict } from '../../src/io/statedict/vae.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { vaeDecode, vaeEncode } from '../../src/models/vae/index.js';
import { judgeAccuracy, restoreJudge } from '../../src/train/judge.js';
import { batchAt, setupRun } from '../../src/train/run.js';

it('the shipped assets record the command and settings that made them', () => {
  const a = loadDemoAssets(demoAssetsDir());
  expect(a.command).toBe('repae demo-assets --out assets/demo-init');
  expect(a.made).toEqual(DEMO_ASSET_DEFAULTS);
  expect(a.judgeRecord.trainImages).toBe(DEMO_ASSET_DEFAULTS.judgeSteps * DEMO_ASSET_DEFAULTS.judgeBatch);
});

it('the shipped judge labels fresh images well, and recognises the shipped VAE\'s reconstructions of images it never saw', async () => {
  await useBestBackend();
  const a = loadDemoAssets(demoAssetsDir());
  const setup = setupRun(demoConfig('/tmp/unused', DEMO_PHASES, 'e2e', a.dir), 96);
  const before = numTensors();
  const judge = await restoreJudge(setup, a.judge, a.judgeRecord, 'test', () => undefined, { testSize: 300 });
  expect(judge.testAccuracy).toBeGreaterThan(0.9);
  const vae = vaeFromStateDict(loadCheckpoint(a.checkpoint, { sections: ['vae'] }).sections['vae']!.entries, setup.vae);
  const fresh = syntheticDataset({ key: key(424_242), length: 128, imageSize: 32 });
  const b = batchAt(fresh, { ...setup, cfg: { ...setup.cfg, batchSize: 128 } }, 0);
  const xHat = tidy(() => clip(vaeDecode(vae, vaeEncode(vae, b.x).mean), -1, 1));
  const labels = await read(b.y);
  expect(await judgeAccuracy(judge, xHat, labels)).toBeGreaterThan(0.8);
  releaseOld([judge.params, vae, b, xHat], null);
  expect(numTensors()).toBe(before);
}, 300_000);
