/**
 * @file `repae demo` (`npm start`): the main job. Trains a tiny REPA-E offline on the built-in
 * dataset on the best available backend, samples, and writes a report with pictures.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { releaseOld } from '../core/scope.js';
import { buildEncoder, initRunState, openDataset, setupRun } from '../train/run.js';
import { evaluateRun, type JudgedAccuracy } from '../train/evaluate.js';
import { trainJudge, type JudgeOptions } from '../train/judge.js';
import { syntheticClasses } from '../data/synthetic.js';
import { linePlotPng, linePlotSvg, type Series } from '../report/plot.js';
import { routingTableMarkdown } from '../report/routing-table.js';
import { decodeRunConfig, type RunConfig } from '../train/config.js';
import { trainLoop } from '../train/loop.js';
import { intFlag, parseArgs, stringFlag, switchFlag } from './args.js';
import { OutputExistsError } from './errors.js';
import { activateBackend } from './gen-common.js';

/** The demo's phases: `e2eSteps` REPA-E steps (VAE, SiT and discriminator together), then `ldmSteps` SiT steps on the tuned, frozen VAE. @category utility types */
export interface DemoPhases {
  readonly e2eSteps: number;
  readonly ldmSteps: number;
}

/** The default phases of `npm start` (see {@link demoConfig}). @category utility types */
export const DEMO_PHASES: DemoPhases = { e2eSteps: 200, ldmSteps: 300 };

/** Batch size of the second phase (the SiT alone is cheap: a larger batch per step). */
const LDM_BATCH = 64;

/**
 * The demo's configuration of one phase: a tiny REPA-E on 2 CPU cores. Phase `e2e` is REPA-E
 * proper (`repae-e`: all five objectives of the routing table); phase `ldm` continues the same
 * SiT on the end-to-end-tuned VAE, frozen (`ldm`: the paper's use of the E2E-VAE with
 * `train_ldm_only`), with a larger batch because its step does not run the VAE.
 * @category utility types
 */
export const demoConfig = (outputDir: string, phases: DemoPhases, phase: 'e2e' | 'ldm' = 'e2e'): RunConfig => {
  const total = phases.e2eSteps + (phase === 'ldm' ? phases.ldmSteps : 0);
  return decodeRunConfig({
    outputDir, expName: 'demo', dataDir: 'builtin:shapes:4000', resolution: 32, batchSize: phase === 'ldm' ? LDM_BATCH : 8,
    mode: phase === 'ldm' ? 'ldm' : 'repae-e',
    sitDepth: 4, sitHidden: 64, sitHeads: 4, encoderDepth: 2, projectorDim: 128, vaeCh: 32, vaeChMult: [1, 1, 2], vaeEmbedDim: 4,
    discNdf: 8, discLayers: 2, perceptualWeight: 0, encoderSteps: 300, emaDecay: 0.995,
    learningRate: 5e-4, vaeLearningRate: 1e-3, discLearningRate: 1e-4,
    maxTrainSteps: total, checkpointingSteps: Math.max(50, Math.floor(total / 4)), samplingSteps: Math.max(50, Math.floor(total / 4)), logEvery: 10, resume: false,
  });
};

/** Class-balanced samples the demo draws and judges (20 per class). */
const DEMO_SAMPLES = 200;

/** The report's judge section: accuracy on samples, reconstructions and real held-out images, and per class. */
function judgeSection(j: JudgedAccuracy, origin: string): string[] {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
  return [
    `The judge is ${origin}. It labels each image; the accuracy is the fraction labelled with the class it was generated for (chance: 10%).`, '',
    '| images | judge accuracy | n |', '|---|---|---|',
    `| EMA samples (class-conditional) | **${pct(j.samples)}** | ${j.nSamples} |`,
    `| VAE reconstructions of held-out images | ${pct(j.reconstructions)} | ${j.nReconstructions} |`,
    `| the held-out images themselves | ${pct(j.real)} | ${j.nReconstructions} |`, '',
    `Per class, on the samples: ${j.samplesPerClass.map((a, c) => `${syntheticClasses[c] ?? c} ${pct(a)}`).join(', ')}.`,
  ];
}

/** Reads `metrics.jsonl` into series. */
function readSeries(file: string, names: readonly string[]): Series[] {
  const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  return names.map((n) => {
    const has = rows.filter((r) => typeof r[n] === 'number'); // phase 2 logs no VAE or discriminator values
    return { name: n, x: has.map((r) => r['step'] as number), y: has.map((r) => r[n] as number) };
  });
}

/** Smaller settings of {@link runDemo} (for tests): the built-in encoder's and the judge's training. @category utility types */
export interface DemoOptions {
  readonly encoderSteps?: number;
  readonly judge?: JudgeOptions;
}

/** Runs the demo (`npm start`): both phases, the judge, the evaluation; writes the report and returns its path. @category utility types */
export async function runDemo(outputDir: string, phases: DemoPhases = DEMO_PHASES, log: (s: string) => void = console.log, o: DemoOptions = {}): Promise<string> {
  const cfg = o.encoderSteps === undefined ? demoConfig(outputDir, phases) : { ...demoConfig(outputDir, phases), encoderSteps: o.encoderSteps };
  const steps = phases.e2eSteps + phases.ldmSteps;
  const runDir = join(outputDir, 'demo');
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const t0 = performance.now();
  const backend = await activateBackend(cfg.backend);
  log(`repae demo: a tiny REPA-E (SiT ${cfg.sitDepth}×${cfg.sitHidden}, VAE f${2 ** (cfg.vaeChMult.length - 1)}d${cfg.vaeEmbedDim}, ${steps} steps) on ${backend}, output ${runDir}`);
  const data = openDataset(cfg);
  const enc = await buildEncoder(cfg, data, undefined, log, cfg.encoderSteps);
  const setup = setupRun(cfg, enc.spec.dim);
  log(`phase 1: ${phases.e2eSteps} REPA-E steps (end to end: VAE, SiT, discriminator), batch ${cfg.batchSize}`);
  const s1 = await trainLoop({ runDir, setup, data, encoder: enc, log, init: () => initRunState(setup, data, enc, log) });
  const e2eSeconds = (performance.now() - t0) / 1000;
  const ldmSetup = setupRun(demoConfig(outputDir, phases, 'ldm'), enc.spec.dim);
  log(`phase 2: ${phases.ldmSteps} SiT steps on the end-to-end-tuned VAE, frozen (ldm), batch ${ldmSetup.cfg.batchSize}`);
  const s = phases.ldmSteps === 0 ? s1 : await trainLoop({ runDir, setup: ldmSetup, data, encoder: enc, log, init: () => Promise.resolve(s1) });
  const trainSeconds = (performance.now() - t0) / 1000;
  log('judge: training a separate classifier on freshly generated images (its own key) to label the samples');
  const tJudge = performance.now();
  const judge = await trainJudge(setup, log, o.judge);
  const judgeSeconds = (performance.now() - tJudge) / 1000;
  log(`evaluating: ${DEMO_SAMPLES} EMA samples (Euler, 50 steps, CFG 4), reconstructions, latent statistics, alignment`);
  const ev = await evaluateRun(s, setup, data, enc, { judge, nSamples: DEMO_SAMPLES, nBatches: 8 });
  const totalSeconds = (performance.now() - t0) / 1000;
  const peakMb = process.resourceUsage().maxRSS / 1024;
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
    `A tiny REPA-E trained offline on the built-in procedurally generated dataset (${data.length} images of 10 shape classes, 32×32), backend **${backend}**, in two phases: **${phases.e2eSteps} REPA-E steps** of batch ${cfg.batchSize}, end to end (all five objectives of the routing table below: the VAE, the SiT and the discriminator train together; ${e2eSeconds.toFixed(0)} s including the encoder), then **${phases.ldmSteps} SiT steps** of batch ${ldmSetup.cfg.batchSize} on the end-to-end-tuned VAE, frozen (\`ldm\` mode, the paper's use of the E2E-VAE; ${(trainSeconds - e2eSeconds).toFixed(0)} s): the SiT step without the VAE is much cheaper, so most of the SiT's training fits in the time.`, '',
    `**Representation encoder:** ${enc.origin}. (No pretrained encoder can be downloaded offline; a user with DINOv2 or MobileNet weights passes \`--enc-type\` to \`repae train\`.)`, '',
    `**Perceptual loss:** weight ${cfg.perceptualWeight} in this demo: LPIPS needs VGG16 weights the project cannot ship.`, '',
    '## Routing table in force', '', routingTableMarkdown(cfg), '',
    '## Samples (EMA SiT, Euler 50 steps, CFG 4, one column per class)', '', '![samples](samples.png)', '',
    `*Columns, left to right: ${syntheticClasses.join(', ')}. The first 8 of the ${DEMO_SAMPLES} samples of each class, in drawing order (no selection).*`, '',
    '## How recognisable are they?', '', ...(ev.judged === undefined ? ['(no judge)'] : judgeSection(ev.judged, judge.origin)), '',
    '## Reconstructions (top: input, bottom: VAE) and latent PCA', '', '![reconstructions](reconstructions.png)', '', '![latent PCA](latent-pca.png)', '',
    '## Numbers', '', '| metric | value |', '|---|---|',
    `| wall time (whole job: encoder, training, judge, evaluation) | ${totalSeconds.toFixed(0)} s (training ${trainSeconds.toFixed(0)} s, judge ${judgeSeconds.toFixed(0)} s) |`,
    `| peak memory (resident set of the process) | ${peakMb.toFixed(0)} MB |`,
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
  releaseOld([s, enc.weights, judge.params], null);
  log(`report: ${path}`);
  return path;
}

/** Implements `repae demo`. @category utility types */
export async function demoCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(`usage: repae demo [--output-dir runs] [--steps ${DEMO_PHASES.e2eSteps}] [--ldm-steps ${DEMO_PHASES.ldmSteps}] [--force]
  --steps N       phase 1: REPA-E steps, end to end (VAE, SiT, discriminator), batch 8
  --ldm-steps N   phase 2: SiT steps on the tuned VAE, frozen, batch ${LDM_BATCH} (0: none)
  --force         replace an existing <output-dir>/demo`);
    return 0;
  }
  const p = parseArgs(argv, ['output-dir', 'steps', 'ldm-steps'], ['force']);
  const out = stringFlag(p, 'output-dir', 'runs');
  const phases: DemoPhases = { e2eSteps: intFlag(p, 'steps', DEMO_PHASES.e2eSteps), ldmSteps: intFlag(p, 'ldm-steps', DEMO_PHASES.ldmSteps, 0) };
  const runDir = join(out, 'demo');
  if (existsSync(runDir) && readdirSync(runDir).length > 0 && !switchFlag(p, 'force')) throw new OutputExistsError(runDir, 'demo run directory', 'pass --force to replace it, or another --output-dir');
  await runDemo(out, phases);
  return 0;
}
