/** @file `repae eval`: sample metrics (Fréchet distance, precision/recall on MobileNet-v1), VAE metrics (latent SV/TV, PSNR/SSIM), CKNNA → a table and JSON. */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { activeBackend } from '../backends/index.js';
import { dispose } from '../core/scope.js';
import { cknnaSitVsEncoder, mobilenetExtractor, sampleMetrics, sitHiddenStates, sourceFeatures, vaeMetrics, type HostFeatures } from '../generate/evaluate.js';
import { generate } from '../generate/generate.js';
import type { LoadedModels } from '../generate/models.js';
import { openImageSource, type ImageSource } from '../generate/sources.js';
import { writeFileAtomic } from '../io/atomic.js';
import { type MobilenetLayer, type MobilenetParams } from '../models/encoders/mobilenet.js';
import { loadMobilenet } from '../io/statedict/mobilenet.js';
import { numberFlag, parseArgs, stringFlag, switchFlag, UsageError, type Parsed } from './args.js';
import { checkOutput } from './errors.js';
import {
  BACKEND_HELP, backendFromFlags, choiceFlag, hasModelFlags, intFlag, MODEL_FLAGS, MODEL_HELP, modelsFromFlags, runDirOf, SAMPLE_FLAGS, SAMPLE_HELP,
  sampleOptionsFromFlags, vaeFromFlags,
} from './gen-common.js';
import { progressBar } from './progress.js';

/** The metric groups of `repae eval`. @category metrics */
export type EvalMetric = 'fd' | 'pr' | 'vae' | 'cknna';
const ALL: readonly EvalMetric[] = ['fd', 'pr', 'vae', 'cknna'];

/** Usage text of `repae eval`. @category utility types */
export const EVAL_USAGE = `usage: repae eval [--samples FILE.npz | --run DIR ...] [--ref PATH] [--data PATH] [--encoder-dir DIR] [flags]

Computes every metric whose inputs are given (or those named by --metrics), prints a table and
writes JSON.
  fd     Fréchet distance of generated vs reference images on MobileNet-v1 features
         (global-average-pooled --fid-layer; the FID formula, not Inception: not comparable to
         published FIDs). Needs --samples (or --run, which samples first), --ref, --encoder-dir.
  pr     improved precision/recall (k = 3, as the ADM suite) on the same features.
  vae    latent spatial variance and total variation of the posterior mean (raw, and normalised
         with the latent stats when known), reconstruction PSNR/SSIM (spec §9.3) of decode(mean).
         Needs --data and a VAE (--vae, or --run).
  cknna  CKNNA (k = --cknna-topk) between SiT hidden states at encoder_depth on noised normalised
         latents and MobileNet tokens at --cknna-layer of the same images. Needs --run (or
         --sit/--vae/--config), --data, --encoder-dir.

inputs:
  --samples FILE.npz     generated images (arr_0 uint8 [N, H, W, 3], e.g. from repae sample)
  --ref PATH             reference images: folder (class sub-folders or flat), .tar/.tar.gz[:folder],
                         .npz (arr_0) or builtin:shapes[:N]
  --ref-limit N          use at most N reference images (default 1000)
  --data PATH            dataset for the VAE metrics and CKNNA (same forms as --ref)
  --data-limit N         use at most N images of --data (default 256)
  --resolution R         ADM centre-crop --ref/--data images that are not R×R (default: the
                         generated images' size when known)
  --encoder-dir DIR      MobileNet v1 tfjs layers model (model.json + shards)
  --encoder-size S       MobileNet input side (default: images smaller than 224 are resized to 224)
  --fid-layer LAYER      MobileNet layer for fd/pr (default conv_pw_13_relu)
  --cknna-layer LAYER    MobileNet layer for CKNNA tokens (default conv_pw_11_relu)
  --cknna-t T            diffusion time of the SiT input (default 0.5)
  --cknna-topk K         neighbourhood size (default 10)
  --cknna-tokens mean|flatten   one vector per image (default mean)
  --metrics LIST         comma list of ${ALL.join(', ')} (default: those whose inputs are given)
  --eval-batch-size B    images per feature batch (default 32)
  --json FILE            JSON output (default <dir of --samples, or <run>/eval, or .>/eval.json)
  --force                overwrite an existing JSON output (default: refuse, before any work)

${MODEL_HELP}

when --run is given without --samples, fd/pr first sample (reusing an existing .npz of the same name):
${SAMPLE_HELP}

${BACKEND_HELP}`;

interface Row { readonly metric: string; readonly value: number; readonly n: string; readonly note: string }

const fmt = (v: number): string => (!Number.isFinite(v) ? String(v) : Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(4) : v.toFixed(4));

/** Renders rows as an aligned text table. @category utility types */
export function metricsTable(rows: readonly Row[]): string {
  const head = ['metric', 'value', 'n', 'notes'];
  const cells = rows.map((r) => [r.metric, fmt(r.value), r.n, r.note]);
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: readonly string[]): string => c.map((x, i) => (i === 1 ? x.padStart(w[i] as number) : x.padEnd(w[i] as number))).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...cells.map(line)].join('\n');
}

function wanted(p: Parsed): { metrics: Set<EvalMetric>; explicit: boolean } {
  if (!p.flags.has('metrics')) return { metrics: new Set(ALL), explicit: false };
  const list = stringFlag(p, 'metrics', '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of list) if (!(ALL as readonly string[]).includes(m)) throw new UsageError(`--metrics: unknown metric '${m}' (choose from ${ALL.join(', ')})`);
  return { metrics: new Set(list as EvalMetric[]), explicit: true };
}

/** Implements `repae eval`. @category utility types */
export async function evalCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(EVAL_USAGE);
    return 0;
  }
  const p = parseArgs(argv, [
    ...MODEL_FLAGS, ...SAMPLE_FLAGS, 'samples', 'ref', 'ref-limit', 'data', 'data-limit', 'resolution', 'encoder-dir', 'encoder-size', 'fid-layer', 'cknna-layer', 'cknna-t',
    'cknna-topk', 'cknna-tokens', 'metrics', 'eval-batch-size', 'json', 'backend',
  ], ['keep-work', 'force']);
  if (p.positional.length > 0) throw new UsageError(`unexpected argument '${p.positional[0]}' (see repae eval --help)`);
  const { metrics, explicit } = wanted(p);
  const has = (f: string): boolean => p.flags.has(f);
  const sitModels = hasModelFlags(p);
  const vaeAvailable = sitModels || has('vae');
  // What each metric needs; with an explicit --metrics a missing input is an error naming the flag.
  const needs: Record<EvalMetric, readonly [boolean, string][]> = {
    fd: [[has('samples') || sitModels, '--samples FILE.npz (or --run DIR to sample)'], [has('ref'), '--ref PATH'], [has('encoder-dir'), '--encoder-dir DIR']],
    pr: [[has('samples') || sitModels, '--samples FILE.npz (or --run DIR to sample)'], [has('ref'), '--ref PATH'], [has('encoder-dir'), '--encoder-dir DIR']],
    vae: [[has('data'), '--data PATH'], [vaeAvailable, '--vae FILE|DIR (or --run DIR)']],
    cknna: [[has('data'), '--data PATH'], [sitModels, '--run DIR (or --sit/--vae/--config)'], [has('encoder-dir'), '--encoder-dir DIR']],
  };
  for (const m of ALL) {
    const missing = needs[m].filter(([ok]) => !ok).map(([, f]) => f);
    if (missing.length === 0) continue;
    if (explicit && metrics.has(m)) throw new UsageError(`metric '${m}' needs ${missing.join(' and ')}`);
    metrics.delete(m);
  }
  if (metrics.size === 0)
    throw new UsageError('nothing to evaluate: give --samples/--run with --ref and --encoder-dir (fd, pr), --data with a VAE (vae), or --run with --data and --encoder-dir (cknna)');
  const layerOf = (flag: string, dflt: MobilenetLayer): MobilenetLayer => {
    const v = stringFlag(p, flag, dflt);
    if (!/^(conv1_relu|conv_(dw|pw)_([1-9]|1[0-3])_relu)$/.test(v)) throw new UsageError(`--${flag} expects conv1_relu or conv_{dw,pw}_{1..13}_relu, got '${v}'`);
    return v as MobilenetLayer;
  };
  const fidLayer = layerOf('fid-layer', 'conv_pw_13_relu'), cknnaLayer = layerOf('cknna-layer', 'conv_pw_11_relu');
  const cknnaT = numberFlag(p, 'cknna-t', 0.5);
  if (!(cknnaT >= 0 && cknnaT <= 1)) throw new UsageError(`--cknna-t expects a number in [0, 1], got ${cknnaT}`);
  const topk = intFlag(p, 'cknna-topk', 10, 2);
  const tokens = choiceFlag(p, 'cknna-tokens', ['mean', 'flatten'], 'mean');
  const ebs = intFlag(p, 'eval-batch-size', 32);
  const refLimit = intFlag(p, 'ref-limit', 1000), dataLimit = intFlag(p, 'data-limit', 256);
  let resolution = has('resolution') ? intFlag(p, 'resolution', 1) : undefined;
  const encSize = has('encoder-size') ? { size: intFlag(p, 'encoder-size', 32, 32) } : {};

  const force = switchFlag(p, 'force');
  const jsonInputs = { samples: has('samples') ? stringFlag(p, 'samples', '') : undefined, ref: has('ref') ? stringFlag(p, 'ref', '') : undefined };
  if (has('json')) checkOutput(stringFlag(p, 'json', ''), force, 'json', jsonInputs);
  else if (has('samples')) checkOutput(join(dirname(stringFlag(p, 'samples', '')), 'eval.json'), force, 'json', jsonInputs);
  const backend = await backendFromFlags(p);
  const rows: Row[] = [];
  const json: Record<string, unknown> = { backend, metrics: {} as Record<string, number> };
  const put = (metric: string, value: number, n: string, note: string): void => {
    rows.push({ metric, value, n, note });
    (json['metrics'] as Record<string, number>)[metric] = value;
  };
  let models: LoadedModels | undefined;
  let encoder: MobilenetParams<never> | undefined;
  const runDir = runDirOf(p);
  let jsonDir = runDir === undefined ? '.' : join(runDir, 'eval');
  try {
    if (sitModels && (metrics.has('cknna') || ((metrics.has('fd') || metrics.has('pr')) && !has('samples')) || (metrics.has('vae') && !has('vae')))) {
      models = await modelsFromFlags(p);
      json['models'] = { source: models.source, step: models.step };
    }
    if (has('encoder-dir') && (metrics.has('fd') || metrics.has('pr') || metrics.has('cknna'))) {
      const dir = stringFlag(p, 'encoder-dir', '');
      if (!existsSync(join(dir, 'model.json'))) throw new UsageError(`--encoder-dir: ${join(dir, 'model.json')} does not exist (a tfjs layers model directory is expected)`);
      encoder = (await loadMobilenet(dir)).params;
    }

    // --- generated-sample metrics -------------------------------------------------------------
    if (metrics.has('fd') || metrics.has('pr')) {
      let samples: string;
      if (has('samples')) samples = stringFlag(p, 'samples', '');
      else {
        const m = models as LoadedModels;
        const opts = sampleOptionsFromFlags(p, m, runDir);
        const target = join(opts.outDir, `${opts.name ?? 'samples'}.npz`);
        if (existsSync(target)) {
          console.error(`eval: reusing ${target}`);
          samples = target;
        } else samples = (await generate({ sit: m.sit.sit, sitCfg: m.sitCfg, vae: m.vae, vaeCfg: m.vaeCfg, stats: m.stats }, opts)).npz;
      }
      if (!has('json')) jsonDir = dirname(samples);
      const gen = openImageSource(samples);
      const first = gen.batches(1).next();
      if (!first.done) resolution ??= first.value.shape[1];
      const ref = openImageSource(stringFlag(p, 'ref', ''), { limit: refLimit, ...(resolution === undefined ? {} : { resolution }) });
      const fx = mobilenetExtractor(encoder as MobilenetParams<never>, { layer: fidLayer, pool: 'avg', ...encSize });
      const feats = async (src: ImageSource, label: string): Promise<HostFeatures> => {
        const bar = progressBar({ label, total: src.length, unit: 'img' });
        const f = await sourceFeatures(src, fx, ebs, (d) => bar.update(d));
        bar.finish();
        return f;
      };
      const g = await feats(gen, 'features (generated)');
      const r = await feats(ref, 'features (reference)');
      const sm = await sampleMetrics(g, r);
      const n = `${sm.numGenerated}/${sm.numReference}`;
      if (metrics.has('fd')) put('fd_mobilenet', sm.frechetDistance, n, `${fx.name} (${sm.dim}-d) vs ${ref.name}`);
      if (metrics.has('pr')) {
        put('precision', sm.precision, n, 'k = 3');
        put('recall', sm.recall, n, 'k = 3');
      }
      json['samples'] = samples;
      json['reference'] = ref.name;
      json['features'] = fx.name;
    }

    // --- VAE metrics ------------------------------------------------------------------------------
    if (metrics.has('vae')) {
      const vae = has('vae') && models === undefined ? await vaeFromFlags(p) : models === undefined ? undefined : { params: models.vae, stats: models.stats, cfg: models.vaeCfg, source: models.source };
      if (vae === undefined) throw new UsageError('metric vae needs --vae FILE|DIR or --run DIR');
      const data = openImageSource(stringFlag(p, 'data', ''), { limit: dataLimit, ...(resolution === undefined ? {} : { resolution }) });
      const bar = progressBar({ label: 'vae metrics', total: data.length, unit: 'img' });
      try {
        const vm = await vaeMetrics(vae.params, data, { batchSize: ebs, onBatch: (d) => bar.update(d), ...(vae.stats === undefined ? {} : { stats: vae.stats }) });
        bar.finish();
        const n = String(vm.count);
        put('latent_sv', vm.latentSv, n, 'spatial variance of the raw posterior mean');
        put('latent_tv', vm.latentTv, n, 'total variation of the raw posterior mean');
        if (vm.latentSvNormalized !== undefined) put('latent_sv_normalized', vm.latentSvNormalized, n, '(z − bias)·scale');
        if (vm.latentTvNormalized !== undefined) put('latent_tv_normalized', vm.latentTvNormalized, n, '(z − bias)·scale');
        put('recon_psnr', vm.psnr, n, 'dB, decode(mean) vs input, L = 255');
        put('recon_ssim', vm.ssim, n, 'window 11, σ 1.5');
        json['data'] = data.name;
        json['vae'] = vae.source;
      } finally {
        if (models === undefined) dispose(vae.params);
      }
    }

    // --- CKNNA --------------------------------------------------------------------------------------
    if (metrics.has('cknna')) {
      const m = models as LoadedModels;
      const data = openImageSource(stringFlag(p, 'data', ''), { limit: dataLimit, ...(resolution === undefined ? {} : { resolution }) });
      const bar = progressBar({ label: 'cknna', total: 2 * data.length, unit: 'img' });
      const a = await sitHiddenStates({ sit: m.sit.sit, sitCfg: m.sitCfg, vae: m.vae, stats: m.stats }, data, { t: cknnaT, batchSize: ebs, onBatch: (d) => bar.update(d) });
      const fx = mobilenetExtractor(encoder as MobilenetParams<never>, { layer: cknnaLayer, pool: 'none', ...encSize });
      const b = await sourceFeatures(data, fx, ebs, (d) => bar.update(data.length + d));
      bar.finish();
      const n = a.shape[0] as number;
      if (n < 4 || topk > n - 1) throw new UsageError(`cknna needs more than --cknna-topk ${topk} images (and at least 4); --data gives ${n} (raise --data-limit)`);
      const v = await cknnaSitVsEncoder(a, b, { topk, tokens });
      put('cknna', v, String(n), `SiT block ${m.sitCfg.encoderDepth} at t = ${cknnaT} vs ${fx.name}, k = ${topk}, tokens ${tokens}`);
      json['cknna'] = { t: cknnaT, depth: m.sitCfg.encoderDepth, layer: cknnaLayer, topk, tokens, data: data.name };
    }
  } finally {
    if (models !== undefined) dispose([models.sit, models.vae]);
    if (encoder !== undefined) dispose(encoder);
  }
  console.log(metricsTable(rows));
  const out = stringFlag(p, 'json', join(jsonDir, 'eval.json'));
  checkOutput(out, force, 'json', jsonInputs);
  mkdirSync(dirname(out) || '.', { recursive: true });
  json['table'] = rows;
  json['backend'] = activeBackend();
  writeFileAtomic(out, new TextEncoder().encode(`${JSON.stringify(json, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2)}\n`));
  console.log(`wrote ${out}`);
  return 0;
}
