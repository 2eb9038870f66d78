/**
 * @file The demo's shipped starting point, `assets/demo-init`: a tiny VAE (and its discriminator)
 * pretrained on the built-in dataset, the built-in REPA encoder, and the judge, as one checkpoint;
 * and `repae demo-assets` (`npm run demo:assets`), the command that makes it. The paper tunes a
 * pretrained VAE end to end (SD-VAE); no pretrained VAE of this size exists, so the project makes
 * and ships its own, and `npm start` spends its minutes on REPA-E itself.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { releaseOld } from '../core/scope.js';
import { CheckpointError, latestCheckpoint, loadCheckpoint, saveCheckpoint, type CheckpointSections, type JsonObject } from '../io/checkpoint.js';
import type { SafeFile } from '../io/safetensors.js';
import { PathReporter } from 'io-ts/lib/PathReporter.js';
import { isRight } from 'fp-ts/lib/Either.js';
import { decodeRunConfig } from '../train/config.js';
import { judgeRecord, judgeWeights, trainJudge, type JudgeRecord } from '../train/judge.js';
import { trainLoop } from '../train/loop.js';
import { buildEncoder, initRunState, openDataset, setupRun, treeSection, vaeDiscSections } from '../train/run.js';
import * as t from 'io-ts';
import { demoConfig, DEMO_PHASES } from './demo-config.js';
import { intFlag, parseArgs, stringFlag, switchFlag } from './args.js';
import { OutputExistsError } from './errors.js';
import { activateBackend, BACKEND_HELP } from './gen-common.js';

/** Format tag of the assets checkpoint's `state.json`. @category io */
export const DEMO_ASSETS_FORMAT = 'repae-demo-assets-1';

/** How the shipped assets were made: defaults of `repae demo-assets`. @category utility types */
export interface DemoAssetsOptions {
  /** VAE pretraining steps (L1 + KL + GAN, no alignment), batch {@link DEMO_ASSET_DEFAULTS}.batchSize. */
  readonly vaeSteps: number;
  readonly batchSize: number;
  /** Steps of the built-in encoder's training (a classifier on the run's images, then frozen). */
  readonly encoderSteps: number;
  /** The judge's training: steps × batch fresh images of its own key. */
  readonly judgeSteps: number;
  readonly judgeBatch: number;
}

/** The settings the shipped assets were made with. @category utility types */
export const DEMO_ASSET_DEFAULTS: DemoAssetsOptions = { vaeSteps: 2000, batchSize: 16, encoderSteps: 300, judgeSteps: 1500, judgeBatch: 32 };

const AssetsState = t.type({
  format: t.literal(DEMO_ASSETS_FORMAT),
  command: t.string,
  made: t.type({ vaeSteps: t.number, batchSize: t.number, encoderSteps: t.number, judgeSteps: t.number, judgeBatch: t.number }),
  judge: t.type({ steps: t.number, batchSize: t.number, trainImages: t.number, testAccuracy: t.number, testSize: t.number }),
  encoder: t.string,
});

/** The loaded assets: where they are, the encoder and judge sections, and how they were made. @category utility types */
export interface DemoAssets {
  /** The directory to pass as `initFrom` (its newest checkpoint holds `vae` and `disc`). */
  readonly dir: string;
  /** The checkpoint directory itself. */
  readonly checkpoint: string;
  readonly enc: SafeFile;
  readonly judge: SafeFile;
  readonly judgeRecord: JudgeRecord;
  readonly made: DemoAssetsOptions;
  readonly command: string;
}

/** The shipped assets' directory: `$REPAE_DEMO_ASSETS`, else `assets/demo-init` of this package (a checkout or the installed package). @category utility types */
export function demoAssetsDir(): string {
  const env = process.env['REPAE_DEMO_ASSETS'];
  if (env !== undefined && env !== '') return resolve(env);
  // from src/cli (a checkout) or dist/src/cli (the installed package)
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'assets', 'demo-init'), join(here, '..', '..', '..', 'assets', 'demo-init')];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

/** Loads the demo assets from `dir`; a missing or damaged set is a {@link CheckpointError} naming the directory and the command that remakes it. @category utility types */
export function loadDemoAssets(dir: string): DemoAssets {
  const { latest } = latestCheckpoint(dir);
  if (latest === undefined) throw new CheckpointError(`demo assets: no complete checkpoint in '${dir}' (make them with \`npm run demo:assets -- --out ${dir}\`, or run \`repae demo --from-scratch\`)`);
  // vae and disc are read (and CRC-checked) by initRunState through initFrom: only their presence here
  const missing = ['vae', 'disc'].filter((n) => !latest.sections.includes(n));
  if (missing.length > 0) throw new CheckpointError(`demo assets: ${latest.path} has no section ${missing.map((n) => `'${n}'`).join(', ')} (remake them with \`npm run demo:assets\`)`);
  const ck = loadCheckpoint(latest, { sections: ['enc', 'judge'] });
  const d = AssetsState.decode(ck.state);
  if (!isRight(d)) throw new CheckpointError(`demo assets: ${latest.path}/state.json is not a ${DEMO_ASSETS_FORMAT} record: ${PathReporter.report(d).join('; ')} (remake them with \`npm run demo:assets\`)`);
  const st = d.right;
  return { dir, checkpoint: latest.path, enc: ck.sections['enc'] as SafeFile, judge: ck.sections['judge'] as SafeFile, judgeRecord: st.judge, made: st.made, command: st.command };
}

/**
 * Makes the demo assets in `out` (`repae demo-assets`): trains the built-in encoder, pretrains the
 * demo's VAE and discriminator for `vaeSteps` on the demo's dataset (REPA-E's step with both
 * alignment coefficients 0: L1 + KL + GAN for the VAE; a throw-away SiT trains alongside), trains
 * the judge on fresh images of its own key, and writes one checkpoint with sections `vae`, `disc`,
 * `enc` and `judge`. Intermediate run files go to `work`. Returns the checkpoint path.
 * @category utility types
 */
export async function makeDemoAssets(out: string, work: string, o: DemoAssetsOptions, command: string, log: (s: string) => void = console.log): Promise<string> {
  const cfg = decodeRunConfig({
    ...demoConfig(work, DEMO_PHASES),
    // the recipe is pinned here (not inherited from the demo's tuning phases): VAE lr 1e-3, SiT lr 5e-4, disc lr 1e-4
    expName: 'demo-vae-pretrain', batchSize: o.batchSize, maxTrainSteps: o.vaeSteps, projCoeff: 0, vaeAlignProjCoeff: 0, vaeLearningRate: 1e-3, learningRate: 5e-4, discLearningRate: 1e-4,
    checkpointingSteps: Math.max(1, Math.floor(o.vaeSteps / 5)), samplingSteps: Math.max(1, Math.floor(o.vaeSteps / 5)), keepCheckpoints: 1, resume: true,
  });
  const data = openDataset(cfg);
  const enc = await buildEncoder(cfg, data, undefined, log, o.encoderSteps);
  const setup = setupRun(cfg, enc.spec.dim);
  log(`demo assets: pretraining the demo VAE for ${o.vaeSteps} steps of batch ${o.batchSize} (L1 + KL + GAN, no alignment)`);
  const s = await trainLoop({ runDir: join(work, cfg.expName), setup, data, encoder: enc, log, init: () => initRunState(setup, data, enc, log) });
  const judge = await trainJudge(setup, log, { steps: o.judgeSteps, batchSize: o.judgeBatch });
  const sections = { ...(await vaeDiscSections(s)), enc: await treeSection(enc.weights), judge: await judgeWeights(judge) };
  const state: JsonObject = { format: DEMO_ASSETS_FORMAT, command, made: { ...o }, judge: { ...judgeRecord(judge, o.judgeSteps, o.judgeBatch) }, encoder: enc.origin, config: cfg as unknown as JsonObject };
  const info = saveCheckpoint(out, s.step, sections as CheckpointSections, state, { keepLast: 1 });
  releaseOld([s, enc.weights, judge.params], null);
  log(`demo assets: ${info.path}`);
  return info.path;
}

/** Implements `repae demo-assets` (`npm run demo:assets`). @category utility types */
export async function demoAssetsCommand(argv: readonly string[]): Promise<number> {
  const d = DEMO_ASSET_DEFAULTS;
  if (argv.includes('--help')) {
    console.log(`usage: repae demo-assets [--out DIR] [--work DIR] [--vae-steps ${d.vaeSteps}] [--batch-size ${d.batchSize}] [--encoder-steps ${d.encoderSteps}] [--judge-steps ${d.judgeSteps}] [--judge-batch ${d.judgeBatch}] [--backend NAME] [--force]
Makes what \`npm start\` starts from: the demo's VAE and discriminator pretrained on the built-in
dataset (L1 + KL + GAN, no alignment), the built-in REPA encoder, and the judge (trained on fresh
images of its own key), as one checkpoint in --out (default ${demoAssetsDir()}).
  --work DIR      the pretraining run's files (default runs/demo-assets-work; resumable)
  --force         replace existing assets in --out
${BACKEND_HELP}`);
    return 0;
  }
  const p = parseArgs(argv, ['out', 'work', 'vae-steps', 'batch-size', 'encoder-steps', 'judge-steps', 'judge-batch', 'backend'], ['force']);
  const out = stringFlag(p, 'out', demoAssetsDir());
  if (latestCheckpoint(out).latest !== undefined && !switchFlag(p, 'force')) throw new OutputExistsError(out, 'demo assets', 'pass --force to replace them, or another --out');
  const o: DemoAssetsOptions = {
    vaeSteps: intFlag(p, 'vae-steps', d.vaeSteps), batchSize: intFlag(p, 'batch-size', d.batchSize), encoderSteps: intFlag(p, 'encoder-steps', d.encoderSteps),
    judgeSteps: intFlag(p, 'judge-steps', d.judgeSteps), judgeBatch: intFlag(p, 'judge-batch', d.judgeBatch),
  };
  await activateBackend(stringFlag(p, 'backend', 'auto'));
  await makeDemoAssets(out, stringFlag(p, 'work', join('runs', 'demo-assets-work')), o, `repae demo-assets ${argv.join(' ')}`.trim());
  return 0;
}
