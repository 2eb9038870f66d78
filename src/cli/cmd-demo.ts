/**
 * @file `repae demo` (`npm start`): the main job. Trains a tiny REPA-E offline on the built-in
 * dataset on the best available backend, samples, and writes a report with pictures.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { releaseOld } from '../core/scope.js';
import { buildEncoder, initRunState, openDataset, setupRun } from '../train/run.js';
import { evaluateRun } from '../train/evaluate.js';
import { linePlotPng, linePlotSvg, type Series } from '../report/plot.js';
import { routingTableMarkdown } from '../report/routing-table.js';
import { decodeRunConfig, type RunConfig } from '../train/config.js';
import { trainLoop } from '../train/loop.js';
import { intFlag, parseArgs, stringFlag, switchFlag } from './args.js';
import { OutputExistsError } from './errors.js';
import { activateBackend } from './gen-common.js';

/** The demo's configuration: a tiny REPA-E that trains in a few minutes on 2 CPU cores. @category optimizers */
export const demoConfig = (outputDir: string, steps: number): RunConfig =>
  decodeRunConfig({
    outputDir, expName: 'demo', dataDir: 'builtin:shapes:4000', resolution: 32, batchSize: 16,
    sitDepth: 4, sitHidden: 64, sitHeads: 4, encoderDepth: 2, projectorDim: 128, vaeCh: 32, vaeChMult: [1, 1, 2], vaeEmbedDim: 4,
    discNdf: 8, discLayers: 2, perceptualWeight: 0, encoderSteps: 300, emaDecay: 0.995,
    learningRate: 3e-4, vaeLearningRate: 1e-4, discLearningRate: 1e-4,
    maxTrainSteps: steps, checkpointingSteps: Math.max(50, Math.floor(steps / 4)), samplingSteps: Math.max(50, Math.floor(steps / 4)), logEvery: 10, resume: false,
  });

/** Reads `metrics.jsonl` into series. */
function readSeries(file: string, names: readonly string[]): Series[] {
  const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  return names.map((n) => ({ name: n, x: rows.map((r) => r['step'] as number), y: rows.map((r) => r[n] as number) }));
}

/** Runs the demo; returns the report path. @category optimizers */
export async function runDemo(outputDir: string, steps: number, log: (s: string) => void = console.log): Promise<string> {
  const cfg = demoConfig(outputDir, steps);
  const runDir = join(outputDir, 'demo');
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const t0 = performance.now();
  const backend = await activateBackend(cfg.backend);
  log(`repae demo: a tiny REPA-E (SiT ${cfg.sitDepth}×${cfg.sitHidden}, VAE f${2 ** (cfg.vaeChMult.length - 1)}d${cfg.vaeEmbedDim}, ${steps} steps) on ${backend}, output ${runDir}`);
  const data = openDataset(cfg);
  const enc = await buildEncoder(cfg, data, undefined, log, cfg.encoderSteps);
  const setup = setupRun(cfg, enc.spec.dim);
  const s = await trainLoop({ runDir, setup, data, encoder: enc, log, init: () => initRunState(setup, data, enc, log) });
  const trainSeconds = (performance.now() - t0) / 1000;
  log('evaluating: EMA samples (Euler, 50 steps, CFG 4), reconstructions, latent statistics, alignment');
  const ev = await evaluateRun(s, setup, data, enc);
  writeFileSync(join(runDir, 'samples.png'), ev.samplesPng);
  writeFileSync(join(runDir, 'reconstructions.png'), ev.reconPng);
  writeFileSync(join(runDir, 'latent-pca.png'), ev.pcaPng);
  const groups: [string, string[], boolean][] = [
    ['losses', ['sit.denoising_loss', 'vae_loss_dict.reconstruction_loss', 'd_loss'], false],
    ['alignment (REPA loss, −cos)', ['sit.proj_loss', 'vae_align.proj_loss'], false],
    ['gradient norms (pre-clip)', ['grad_norm_sit', 'grad_norm_vae', 'grad_norm_disc'], true],
  ];
  const plots = groups.map(([title, names, logY], i) => {
    const series = readSeries(join(runDir, 'metrics.jsonl'), names);
    writeFileSync(join(runDir, `plot-${i}.svg`), linePlotSvg(series, { title, logY }));
    writeFileSync(join(runDir, `plot-${i}.png`), linePlotPng(series, { title, logY }));
    return `![${title}](plot-${i}.svg)\n\n*${title}: ${names.map((n) => `\`${n}\``).join(', ')} over steps (PNG without labels: plot-${i}.png).*`;
  });
  const last = readSeries(join(runDir, 'metrics.jsonl'), ['sit_loss', 'sit.denoising_loss', 'sit.proj_loss', 'vae_loss_dict.reconstruction_loss']).map((x) => `| \`${x.name}\` | ${(x.y[0] as number).toFixed(4)} | ${(x.y[x.y.length - 1] as number).toFixed(4)} |`);
  const report = [
    '# repae demo report', '',
    `A tiny REPA-E trained end to end, offline, on the built-in procedurally generated dataset (${data.length} images of 10 shape classes, 32×32), backend **${backend}**, ${steps} steps of batch ${cfg.batchSize}, ${trainSeconds.toFixed(0)} s including the encoder.`, '',
    `**Representation encoder:** ${enc.origin}. (No pretrained encoder can be downloaded offline; a user with DINOv2 or MobileNet weights passes \`--enc-type\` to \`repae train\`.)`, '',
    `**Perceptual loss:** weight ${cfg.perceptualWeight} in this demo: LPIPS needs VGG16 weights the project cannot ship.`, '',
    '## Routing table in force', '', routingTableMarkdown(cfg), '',
    '## Samples (EMA SiT, Euler 50 steps, CFG 4, one column per class)', '', '![samples](samples.png)', '',
    '## Reconstructions (top: input, bottom: VAE) and latent PCA', '', '![reconstructions](reconstructions.png)', '', '![latent PCA](latent-pca.png)', '',
    '## Numbers', '', '| metric | value |', '|---|---|',
    `| latent spatial variance (BN-normalised posterior means) | ${ev.spatialVariance.toFixed(4)} |`,
    `| latent total variation | ${ev.totalVariation.toFixed(4)} |`,
    `| reconstruction PSNR / SSIM | ${ev.psnr.toFixed(2)} dB / ${ev.ssim.toFixed(3)} |`,
    `| CKNNA (SiT block ${cfg.encoderDepth} vs encoder) | ${ev.cknna.toFixed(4)} |`,
    `| Fréchet distance on encoder features (samples vs data) | ${ev.fd.toFixed(3)} |`, '',
    '| logged value | first step | last step |', '|---|---|---|', ...last, '',
    '## Curves', '', ...plots, '',
    `Files: \`metrics.jsonl\` (every ${cfg.logEvery} steps), \`samples/\` (preview grids during training), \`checkpoints/\` (official state-dict names), \`config.json\`.`, '',
  ].join('\n');
  const path = join(runDir, 'report.md');
  writeFileSync(path, report);
  releaseOld([s, enc.weights], null);
  log(`report: ${path}`);
  return path;
}

/** Implements `repae demo`. @category utility types */
export async function demoCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) { console.log('usage: repae demo [--output-dir runs] [--steps 300] [--force]   (--force: replace an existing <output-dir>/demo)'); return 0; }
  const p = parseArgs(argv, ['output-dir', 'steps'], ['force']);
  const out = stringFlag(p, 'output-dir', 'runs'), steps = intFlag(p, 'steps', 300);
  const runDir = join(out, 'demo');
  if (existsSync(runDir) && readdirSync(runDir).length > 0 && !switchFlag(p, 'force')) throw new OutputExistsError(runDir, 'demo run directory', 'pass --force to replace it, or another --output-dir');
  await runDemo(out, steps);
  return 0;
}
