/**
 * @file `repae demo` (`npm start`): the main job. Trains a tiny REPA-E offline on the built-in
 * dataset on the best available backend, samples, and writes a report with pictures.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { releaseOld } from '../core/scope.js';
import { buildEncoder, initRunState, openDataset, setupRun } from '../train/run.js';
import { evaluateRun, type JudgedAccuracy } from '../train/evaluate.js';
import { restoreJudge, trainJudge, type JudgeOptions } from '../train/judge.js';
import { syntheticClasses, syntheticDataset } from '../data/synthetic.js';
import { key as mkKey } from '../core/rng.js';
import { linePlotPng, linePlotSvg, type Series } from '../report/plot.js';
import { routingTableMarkdown } from '../report/routing-table.js';
import { trainLoop } from '../train/loop.js';
import { intFlag, parseArgs, stringFlag, switchFlag, UsageError } from './args.js';
import { OutputExistsError } from './errors.js';
import { activateBackend, BACKEND_HELP } from './gen-common.js';
import { demoAssetsDir, loadDemoAssets, type DemoAssets } from './demo-assets.js';
import { DEMO_PHASES, demoConfig, LDM_BATCH, type DemoPhases } from './demo-config.js';

/** Seed offset of the held-out images the demo evaluates on (the run's data is `seed + 7919`, the judge's `seed + 1_000_003`). */
const HELD_OUT_KEY = 2_000_029;

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

/** Settings of {@link runDemo} beyond its phases. @category utility types */
export interface DemoOptions {
  /** The assets directory the VAE, discriminator, encoder and judge come from (default {@link demoAssetsDir}); `null`: from scratch (VAE random, encoder and judge trained here). */
  readonly assets?: string | null;
  /** Backend name, as `--backend` (default `auto`: the fastest that runs). */
  readonly backend?: string;
  /** From scratch only: the built-in encoder's and the judge's training (smaller for tests). */
  readonly encoderSteps?: number;
  readonly judge?: JudgeOptions;
}

/** Runs the demo (`npm start`): both phases, the judge, the evaluation; writes the report and returns its path. @category utility types */
export async function runDemo(outputDir: string, phases: DemoPhases = DEMO_PHASES, log: (s: string) => void = console.log, o: DemoOptions = {}): Promise<string> {
  const assets: DemoAssets | undefined = o.assets === null ? undefined : loadDemoAssets(o.assets ?? demoAssetsDir());
  const cfg0 = demoConfig(outputDir, phases, 'e2e', assets?.dir ?? '');
  const cfg = { ...cfg0, encoderSteps: o.encoderSteps ?? cfg0.encoderSteps };
  const steps = phases.e2eSteps + phases.ldmSteps;
  const runDir = join(outputDir, 'demo');
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const t0 = performance.now();
  const backend = await activateBackend(o.backend ?? cfg.backend);
  log(`repae demo: a tiny REPA-E (SiT ${cfg.sitDepth}×${cfg.sitHidden}, VAE f${2 ** (cfg.vaeChMult.length - 1)}d${cfg.vaeEmbedDim}, ${steps} steps) on ${backend}, output ${runDir}`);
  const data = openDataset(cfg);
  const shipped = assets === undefined ? '' : `shipped in ${relative(process.cwd(), assets.checkpoint) || '.'}, made by \`${assets.command}\``;
  const enc0 = await buildEncoder(cfg, data, assets?.enc, log, cfg.encoderSteps);
  const enc = assets === undefined ? enc0 : { ...enc0, origin: `built-in tiny CNN trained for ${assets.made.encoderSteps} steps as a ${data.classes.length}-class classifier on the run's images, then frozen (${shipped})` };
  if (assets !== undefined) log(`VAE, discriminator, encoder and judge from ${assets.checkpoint} (VAE pretrained for ${assets.made.vaeSteps} steps of batch ${assets.made.batchSize})`);
  const setup = setupRun(cfg, enc.spec.dim);
  log(`phase 1: ${phases.e2eSteps} REPA-E steps (end to end: VAE, SiT, discriminator), batch ${cfg.batchSize}`);
  const s1 = await trainLoop({ runDir, setup, data, encoder: enc, log, init: () => initRunState(setup, data, enc, log) });
  const e2eSeconds = (performance.now() - t0) / 1000;
  const ldmSetup = setupRun(demoConfig(outputDir, phases, 'ldm', cfg.initFrom), enc.spec.dim);
  log(`phase 2: ${phases.ldmSteps} SiT steps on the end-to-end-tuned VAE, frozen (ldm), batch ${ldmSetup.cfg.batchSize}`);
  const s = phases.ldmSteps === 0 ? s1 : await trainLoop({ runDir, setup: ldmSetup, data, encoder: enc, log, init: () => Promise.resolve(s1) });
  const trainSeconds = (performance.now() - t0) / 1000;
  const tJudge = performance.now();
  if (assets === undefined) log('judge: training a separate classifier on freshly generated images (its own key) to label the samples');
  const judge = assets === undefined ? await trainJudge(setup, log, o.judge) : await restoreJudge(setup, assets.judge, assets.judgeRecord, shipped, log, o.judge);
  const judgeSeconds = (performance.now() - tJudge) / 1000;
  log(`evaluating: ${DEMO_SAMPLES} EMA samples (Euler, 50 steps, CFG 4), reconstructions, latent statistics, alignment`);
  // Held out for real: images of a key of their own, never seen by the VAE, the SiT or the encoder.
  const heldOut = syntheticDataset({ key: mkKey(cfg.seed + HELD_OUT_KEY), length: 512, imageSize: cfg.resolution });
  const ev = await evaluateRun(s, setup, heldOut, enc, { judge, nSamples: DEMO_SAMPLES, nBatches: 8 });
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
  const start = assets === undefined
    ? 'Everything starts from scratch (`--from-scratch`): a random VAE, discriminator and SiT.'
    : `The VAE and discriminator start from the shipped demo assets (${shipped}): the demo's VAE pretrained for ${assets.made.vaeSteps} steps of batch ${assets.made.batchSize} on this dataset (L1 + KL + GAN, no alignment), as the paper tunes a pretrained VAE (SD-VAE) end to end; the SiT starts from random weights.`;
  const report = [
    '# repae demo report', '',
    `A tiny REPA-E trained offline on the built-in procedurally generated dataset (${data.length} images of 10 shape classes, 32×32), backend **${backend}**. ${start} Then two phases: **${phases.e2eSteps} REPA-E steps** of batch ${cfg.batchSize}, end to end (all five objectives of the routing table below: the VAE, the SiT and the discriminator train together; ${e2eSeconds.toFixed(0)} s including the encoder), then **${phases.ldmSteps} SiT steps** of batch ${ldmSetup.cfg.batchSize} on the end-to-end-tuned VAE, frozen (\`ldm\` mode, the paper's use of the E2E-VAE; ${(trainSeconds - e2eSeconds).toFixed(0)} s): the SiT step without the VAE is much cheaper, so most of the SiT's training fits in the time.`, '',
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
    console.log(`usage: repae demo [--output-dir runs] [--steps ${DEMO_PHASES.e2eSteps}] [--ldm-steps ${DEMO_PHASES.ldmSteps}] [--assets DIR | --from-scratch] [--backend NAME] [--force]
  --steps N       phase 1: REPA-E steps, end to end (VAE, SiT, discriminator), batch 8
  --ldm-steps N   phase 2: SiT steps on the tuned VAE, frozen, batch ${LDM_BATCH} (0: none)
  --assets DIR    where the pretrained VAE, discriminator, encoder and judge come from
                  (default ${demoAssetsDir()}, made by \`npm run demo:assets\`)
  --from-scratch  no assets: a random VAE, and the encoder and judge trained here first
  --force         replace an existing <output-dir>/demo
${BACKEND_HELP}`);
    return 0;
  }
  const p = parseArgs(argv, ['output-dir', 'steps', 'ldm-steps', 'assets', 'backend'], ['force', 'from-scratch']);
  const out = stringFlag(p, 'output-dir', 'runs');
  const phases: DemoPhases = { e2eSteps: intFlag(p, 'steps', DEMO_PHASES.e2eSteps), ldmSteps: intFlag(p, 'ldm-steps', DEMO_PHASES.ldmSteps, 0) };
  if (switchFlag(p, 'from-scratch') && p.flags.has('assets')) throw new UsageError('--assets and --from-scratch exclude each other');
  const runDir = join(out, 'demo');
  if (existsSync(runDir) && readdirSync(runDir).length > 0 && !switchFlag(p, 'force')) throw new OutputExistsError(runDir, 'demo run directory', 'pass --force to replace it, or another --output-dir');
  await runDemo(out, phases, console.log, { assets: switchFlag(p, 'from-scratch') ? null : stringFlag(p, 'assets', demoAssetsDir()), backend: stringFlag(p, 'backend', 'auto') });
  return 0;
}
