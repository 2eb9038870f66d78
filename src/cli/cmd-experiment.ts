/**
 * @file `repae experiment` (`npm run experiment`): the paper's claims at toy scale on CIFAR-10 with
 * the MobileNet v1 encoder — REPA with a frozen VAE, REPA-E, and the naive end-to-end ablation,
 * trained for the same steps from the same pretrained VAE, with a markdown + PNG report.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { releaseOld } from '../core/scope.js';
import { evaluateRun, type RunEvaluation } from '../train/evaluate.js';
import { buildEncoder, initRunState, openDataset, setupRun } from '../train/run.js';
import { linePlotPng, linePlotSvg, type Series } from '../report/plot.js';
import { routingTableMarkdown } from '../report/routing-table.js';
import { decodeRunConfig, type RunConfig } from '../train/config.js';
import { trainLoop } from '../train/loop.js';
import { intFlag, parseArgs, stringFlag, switchFlag, UsageError } from './args.js';
import { OutputExistsError } from './errors.js';
import { activateBackend } from './gen-common.js';

/** The variants compared, as run modes. @category optimizers */
export const experimentVariants = [
  { name: 'repa-frozen-vae', mode: 'ldm', title: 'REPA, frozen VAE' },
  { name: 'repa-e', mode: 'repae-e', title: 'REPA-E (end to end, stop-grad)' },
  { name: 'naive-e2e', mode: 'naive-e2e', title: 'naive E2E (diffusion loss into the VAE)' },
] as const;

interface Point { readonly step: number; readonly ev: RunEvaluation }

type Results = Readonly<Record<string, { readonly points: readonly Point[]; readonly final: RunEvaluation }>>;

/**
 * The experiment's result in words, next to the paper's claims: REPA-E generates better than REPA
 * on a frozen VAE; back-propagating the diffusion loss into the VAE (naive E2E) simplifies the
 * latent space (lower spatial variance / total variation) and generates worse. Each sentence says
 * whether these numbers agree. @category optimizers
 */
export function verdict(r: Results): string[] {
  const get = (n: string): { points: readonly Point[]; final: RunEvaluation } | undefined => r[n];
  const frozen = get('repa-frozen-vae'), e2e = get('repa-e'), naive = get('naive-e2e');
  if (frozen === undefined || e2e === undefined || naive === undefined) return ['(a variant is missing)'];
  const f = (x: number): string => x.toFixed(2);
  const agree = (ok: boolean): string => (ok ? '**agrees** with the paper' : '**does not agree** with the paper');
  const moving = (v: { points: readonly Point[] }): string => {
    const fds = v.points.map((p) => p.ev.fd).filter((x) => Number.isFinite(x));
    if (fds.length < 3) return 'too few evaluation points to say whether it has settled';
    const [a, b, c] = fds.slice(-3) as [number, number, number];
    const rel = Math.abs(c - b) / Math.max(1e-9, Math.abs(b));
    return `its last two evaluation-point FDs moved ${(100 * Math.abs(b - a) / Math.max(1e-9, Math.abs(a))).toFixed(0)} % then ${(100 * rel).toFixed(0)} %${rel < 0.1 ? ' (settling)' : ' (still moving)'}`;
  };
  return [
    `- Generation: REPA-E reaches a Fréchet distance of ${f(e2e.final.fd)} against ${f(frozen.final.fd)} for REPA on the frozen VAE; this ${agree(e2e.final.fd < frozen.final.fd)} (end-to-end tuning with the REPA loss improves generation).`,
    `- Naive end-to-end training (the diffusion loss into the VAE): latent spatial variance ${naive.final.spatialVariance.toFixed(4)} and total variation ${naive.final.totalVariation.toFixed(4)} against REPA-E's ${e2e.final.spatialVariance.toFixed(4)} and ${e2e.final.totalVariation.toFixed(4)}; the paper finds the naive latent space simplified (lower), and these numbers ${naive.final.totalVariation < e2e.final.totalVariation ? 'show that (TV lower)' : 'do not show it (TV not lower)'}. Its FD is ${f(naive.final.fd)} against REPA-E's ${f(e2e.final.fd)}: this ${agree(naive.final.fd > e2e.final.fd)} (naive E2E generates worse).`,
    `- Settling: REPA, frozen VAE: ${moving(frozen)}; REPA-E: ${moving(e2e)}; naive E2E: ${moving(naive)}.`,
  ];
}

/** Runs the experiment and writes `<out>/report.md`; returns its path. @category optimizers */
export async function runExperiment(o: { shared: string; out: string; work: string; pretrainSteps: number; steps: number; evalEvery: number; samples: number; evalSamples: number; command: string }, log: (s: string) => void = console.log): Promise<string> {
  const base = (over: Partial<RunConfig>): RunConfig => decodeRunConfig({
    outputDir: o.work, dataDir: `cifar-png:${join(o.shared, 'cifar10-subset-png')}:0,1,2,3`, resolution: 32, batchSize: 16,
    encType: `mobilenet:${join(o.shared, 'mobilenet-v1-0.75')}:conv_pw_11_relu:64`,
    sitDepth: 4, sitHidden: 96, sitHeads: 4, encoderDepth: 2, projectorDim: 128, vaeCh: 32, vaeChMult: [1, 1, 2], vaeEmbedDim: 4,
    discNdf: 8, discLayers: 2, perceptualWeight: 0, emaDecay: 0.995, learningRate: 3e-4, resume: true, logEvery: 10, keepCheckpoints: 1, ...over,
  });
  const t0 = performance.now();
  mkdirSync(o.out, { recursive: true });
  const pre = base({ expName: 'vae-pretrain', mode: 'repae-e', projCoeff: 0, vaeAlignProjCoeff: 0, maxTrainSteps: o.pretrainSteps, checkpointingSteps: o.pretrainSteps, samplingSteps: 1_000_000 });
  const backend = await activateBackend(pre.backend);
  const data = openDataset(pre);
  log(`experiment on ${backend}: ${data.name}, ${data.length} images; VAE pretraining ${o.pretrainSteps} steps, then 3 × ${o.steps} steps`);
  const enc = await buildEncoder(pre, data, undefined, log);
  log(`encoder: ${enc.origin}`);
  {
    const setup = setupRun(pre, enc.spec.dim);
    const s = await trainLoop({ runDir: join(o.work, pre.expName), setup, data, encoder: enc, log, progress: false, init: () => initRunState(setup, data, enc, log) });
    releaseOld(s, null);
  }
  const results: Record<string, { points: Point[]; final: RunEvaluation; cfg: RunConfig; seconds: number }> = {};
  // every evaluation point: the same sample count, against as many real images
  const evalAt = { nSamples: o.evalSamples, fdReal: o.evalSamples };
  for (const v of experimentVariants) {
    const cfg = base({ expName: v.name, mode: v.mode, initFrom: join(o.work, pre.expName), maxTrainSteps: o.steps, checkpointingSteps: o.evalEvery, samplingSteps: 1_000_000 });
    const setup = setupRun(cfg, enc.spec.dim);
    const points: Point[] = [];
    const tv = performance.now();
    log(`— ${v.title} (${cfg.mode})`);
    let s: Awaited<ReturnType<typeof trainLoop>> | undefined;
    let final: RunEvaluation | undefined;
    for (let stop = Math.min(o.evalEvery, o.steps); ; stop = Math.min(stop + o.evalEvery, o.steps)) {
      if (s !== undefined) releaseOld(s, null);
      s = await trainLoop({
        runDir: join(o.work, v.name), setup, data, encoder: enc, log, progress: false, stopAt: stop,
        init: async () => {
          const st = await initRunState(setup, data, enc, log);
          points.push({ step: 0, ev: await evaluateRun(st, setup, data, enc, evalAt) });
          return st;
        },
      });
      if (stop >= o.steps) break;
      points.push({ step: s.step, ev: await evaluateRun(s, setup, data, enc, evalAt) });
      log(`  step ${s.step}: FD (${o.evalSamples} samples) ${points[points.length - 1]!.ev.fd.toFixed(2)}, CKNNA ${points[points.length - 1]!.ev.cknna.toFixed(3)}, spatial variance ${points[points.length - 1]!.ev.spatialVariance.toFixed(4)}`);
    }
    const last = await evaluateRun(s, setup, data, enc, evalAt);
    points.push({ step: s.step, ev: last });
    log(`  step ${s.step}: FD (${o.evalSamples} samples) ${last.fd.toFixed(2)}; final FD on ${o.samples} samples vs ${o.samples} real images…`);
    final = await evaluateRun(s, setup, data, enc, { nSamples: o.samples, fdReal: o.samples });
    writeFileSync(join(o.out, `${v.name}-samples.png`), final.samplesPng);
    writeFileSync(join(o.out, `${v.name}-recon.png`), final.reconPng);
    writeFileSync(join(o.out, `${v.name}-latent-pca.png`), final.pcaPng);
    results[v.name] = { points, final, cfg, seconds: (performance.now() - tv) / 1000 };
    releaseOld(s, null);
  }
  const total = (performance.now() - t0) / 1000;
  const f = 2 ** (pre.vaeChMult.length - 1), side = pre.resolution / f;
  const rows = experimentVariants.map((v) => {
    const r = results[v.name]!;
    const e = r.final, s0 = r.points[0]!.ev;
    return `| ${v.title} | ${s0.spatialVariance.toFixed(4)} → **${e.spatialVariance.toFixed(4)}** | ${s0.totalVariation.toFixed(4)} → ${e.totalVariation.toFixed(4)} | ${s0.cknna.toFixed(3)} → ${e.cknna.toFixed(3)} | ${s0.psnr.toFixed(2)} → ${e.psnr.toFixed(2)} | ${e.fd.toFixed(2)} | ${r.seconds.toFixed(0)} s |`;
  });
  const report = [
    '# REPA-E at toy scale: frozen-VAE REPA vs REPA-E vs naive end-to-end', '',
    `Command: \`${o.command}\` (backend ${backend}, ${total.toFixed(0)} s in all on this machine).`, '',
    `Data: ${data.name} (${data.length} CIFAR-10 training images, 32×32, lossless PNG strips). Encoder: ${enc.origin}; ${enc.spec.dim}-d tokens on a 4×4 grid = the SiT's 16 tokens.`,
    `Models: SiT ${pre.sitDepth}×${pre.sitHidden} (patch ${pre.patchSize} on ${side}×${side}×${pre.vaeEmbedDim} latents, encoder depth ${pre.encoderDepth}), VAE f${f}d${pre.vaeEmbedDim} (ch ${pre.vaeCh}), PatchGAN discriminator (ndf ${pre.discNdf}, ${pre.discLayers} layers), LPIPS weight ${pre.perceptualWeight} (no VGG16 weights offline), batch ${pre.batchSize}, AdamW lr ${pre.learningRate} (SiT) / ${pre.vaeLearningRate} (VAE) / ${pre.discLearningRate} (disc), EMA ${pre.emaDecay}.`,
    `Protocol: the VAE is first pretrained alone for ${o.pretrainSteps} steps (L1 + KL + GAN, no alignment); each variant then starts from that VAE and a fresh SiT with the same seed and trains ${o.steps} steps.`, '',
    '## Results (start → end of each variant)', '',
    `| variant | latent spatial variance | latent total variation | CKNNA (SiT vs MobileNet) | recon PSNR (dB) | Fréchet distance, MobileNet features of ${o.samples} samples vs ${o.samples} real images | time |`,
    '|---|---|---|---|---|---|---|', ...rows, '',
    'Latent statistics are computed on posterior means normalised by the latent BatchNorm, as in paper Table 10; CKNNA at t = 0.5, top-10 neighbours over 64 held-out images. Samples: EMA SiT, Euler 50 steps, CFG 4, class-balanced.', '',
    '## What this says, next to the paper', '', ...verdict(results), '',
    ...experimentVariants.flatMap((v) => [`### ${v.title}`, '', `![samples](${v.name}-samples.png)`, '', `![reconstructions](${v.name}-recon.png) ![latent PCA](${v.name}-latent-pca.png)`, '', routingTableMarkdown(results[v.name]!.cfg), '']),
  ];
  const curves: [string, string][] = [['sit.denoising_loss', 'SiT denoising loss'], ['sit.proj_loss', 'REPA loss of the SiT (−cos)'], ['vae_loss_dict.reconstruction_loss', 'VAE L1 reconstruction loss']];
  const { readFileSync } = await import('node:fs');
  curves.forEach(([metric, title], i) => {
    const series: Series[] = experimentVariants.map((v) => {
      const lines = readFileSync(join(o.work, v.name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
      return { name: v.name, x: lines.map((l) => l['step'] as number), y: lines.map((l) => l[metric] ?? NaN) };
    });
    writeFileSync(join(o.out, `curve-${i}.svg`), linePlotSvg(series, { title }));
    writeFileSync(join(o.out, `curve-${i}.png`), linePlotPng(series, { title }));
    report.push(`![${title}](curve-${i}.svg)`, '', `*${title} over steps; colours: ${experimentVariants.map((v) => v.name).join(', ')} (PNG: curve-${i}.png).*`, '');
  });
  const overSteps: [keyof RunEvaluation, string][] = [['fd', `Fréchet distance (${o.evalSamples} samples vs ${o.evalSamples} real images)`], ['cknna', 'CKNNA alignment (SiT block 2 vs MobileNet)'], ['spatialVariance', 'latent spatial variance'], ['totalVariation', 'latent total variation'], ['psnr', 'reconstruction PSNR (dB)']];
  overSteps.forEach(([k, title], i) => {
    const series: Series[] = experimentVariants.map((v) => ({ name: v.name, x: results[v.name]!.points.map((p) => p.step), y: results[v.name]!.points.map((p) => p.ev[k] as number) }));
    writeFileSync(join(o.out, `eval-${i}.svg`), linePlotSvg(series, { title }));
    writeFileSync(join(o.out, `eval-${i}.png`), linePlotPng(series, { title }));
    report.push(`![${title}](eval-${i}.svg)`, '', `*${title} every ${o.evalEvery} steps; colours: ${experimentVariants.map((v) => v.name).join(', ')} (PNG: eval-${i}.png).*`, '');
  });
  const path = join(o.out, 'report.md');
  writeFileSync(path, `${report.join('\n')}\n`);
  writeFileSync(join(o.out, 'results.json'), `${JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, { seconds: r.seconds, points: r.points.map((p) => ({ step: p.step, spatialVariance: p.ev.spatialVariance, totalVariation: p.ev.totalVariation, cknna: p.ev.cknna, psnr: p.ev.psnr, ssim: p.ev.ssim, fd: p.ev.fd })) }])), null, 2)}\n`);
  releaseOld(enc.weights, null);
  log(`report: ${path}`);
  return path;
}

/** Implements `repae experiment`. @category utility types */
export async function experimentCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) { console.log('usage: repae experiment [--shared ../shared/data] [--out docs/experiment] [--work runs/experiment] [--pretrain-steps 300] [--steps 2000] [--eval-every 250] [--samples 2000] [--eval-samples 500] [--force]\n  --samples N       samples (and real images) of the final Fréchet distance of each variant\n  --eval-samples N  the same at every --eval-every point (the generation metric over steps)'); return 0; }
  const p = parseArgs(argv, ['shared', 'out', 'work', 'pretrain-steps', 'steps', 'eval-every', 'samples', 'eval-samples'], ['force']);
  const out = stringFlag(p, 'out', 'docs/experiment');
  if (existsSync(join(out, 'report.md')) && !switchFlag(p, 'force')) throw new OutputExistsError(join(out, 'report.md'), 'report', 'pass --force to replace it (and its pictures), or another --out');
  const shared = stringFlag(p, 'shared', '../shared/data');
  for (const d of ['cifar10-subset-png', 'mobilenet-v1-0.75']) if (!existsSync(join(shared, d))) throw new UsageError(`--shared ${shared}: no ${d}/ in it (the experiment needs the CIFAR-10 strips and MobileNet v1 of ../shared/data)`);
  await runExperiment({
    shared, out, work: stringFlag(p, 'work', 'runs/experiment'),
    pretrainSteps: intFlag(p, 'pretrain-steps', 300), steps: intFlag(p, 'steps', 2000), evalEvery: intFlag(p, 'eval-every', 250),
    samples: intFlag(p, 'samples', 2000), evalSamples: intFlag(p, 'eval-samples', 500),
    command: `npm run experiment -- ${argv.join(' ')}`.trim(),
  });
  return 0;
}
