/** @file `repae encode`: images → VAE latents (safetensors, NHWC) and the latent PCA image. */
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';
import { concat, read } from '../core/ops/index.js';
import { fold, key as rngKey } from '../core/rng.js';
import { dispose } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { encodeImages } from '../generate/codec.js';
import { openImageSource } from '../generate/sources.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeSafetensorsFile } from '../io/tensors.js';
import { latentPcaPng } from '../io/pca-png.js';
import { vaeDownsampling } from '../models/vae/config.js';
import { parseArgs, stringFlag, switchFlag, UsageError } from './args.js';
import { checkOutput } from './errors.js';
import { BACKEND_HELP, backendFromFlags, choiceFlag, intFlag, MODEL_FLAGS, vaeFromFlags } from './gen-common.js';
import { progressBar } from './progress.js';

/** Usage text of `repae encode`. @category utility types */
export const ENCODE_USAGE = `usage: repae encode --data PATH --out FILE.safetensors (--vae FILE|DIR | --run DIR) [flags]

Encodes images with the VAE (x/127.5 − 1 → encoder → posterior) and writes a safetensors file:
  latents   F32 [N, h, w, C]  (NHWC; metadata layout=NHWC, mode, normalized)
  labels    I32 [N]
  latents_scale, latents_bias  F32 [1, C, 1, 1]  (when the statistics are known)

flags:
  --data PATH          images: a folder (class sub-folders or flat), .tar/.tar.gz[:folder], .npz (arr_0), builtin:shapes[:N]
  --out FILE           output .safetensors (required)
  --vae FILE|DIR       VAE (official/diffusers safetensors or diffusers dir); or --run DIR for a run's VAE + EMA stats
  --run DIR            a run (newest checkpoint) or checkpoint directory
  --latents-stats FILE statistics to normalise with (default: the run's EMA BN, or the VAE bundle's)
  --mode mean|sample   posterior mean (default) or a sample (training uses samples)
  --normalize          store (z − bias)·scale, the SiT's input space (needs statistics)
  --pca FILE.png       also write the latent PCA image grid (first --pca-count latents, upsampled ×f)
  --pca-count N        latents in the PCA grid (default 16)
  --pca-fit per-image|batch   PCA per image (default) or one over the batch (comparable colours)
  --limit N            encode at most N images
  --resolution R       ADM centre-crop images that are not R×R
  --batch-size B       images per batch (default 16)
  --seed S             key for --mode sample (default 0)
  --force              overwrite an existing --out / --pca file (never one of the inputs)
${BACKEND_HELP}`;

/** Implements `repae encode`. @category utility types */
export async function encodeCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(ENCODE_USAGE);
    return 0;
  }
  const p = parseArgs(argv, [...MODEL_FLAGS, 'data', 'out', 'mode', 'pca', 'pca-count', 'pca-fit', 'limit', 'resolution', 'batch-size', 'seed', 'backend'], ['normalize', 'force']);
  if (p.positional.length > 0) throw new UsageError(`unexpected argument '${p.positional[0]}' (see repae encode --help)`);
  for (const f of ['data', 'out']) if (!p.flags.has(f)) throw new UsageError(`missing --${f}`);
  const out = stringFlag(p, 'out', '');
  if (!out.endsWith('.safetensors')) throw new UsageError(`--out must name a .safetensors file, got '${out}'`);
  const force = switchFlag(p, 'force');
  const inputs = { vae: p.flags.has('vae') ? stringFlag(p, 'vae', '') : undefined, data: stringFlag(p, 'data', ''), 'latents-stats': p.flags.has('latents-stats') ? stringFlag(p, 'latents-stats', '') : undefined };
  checkOutput(out, force, 'out', inputs);
  if (p.flags.has('pca')) checkOutput(stringFlag(p, 'pca', ''), force, 'pca', { ...inputs, out });
  const mode = choiceFlag(p, 'mode', ['mean', 'sample'], 'mean');
  const normalize = switchFlag(p, 'normalize');
  const bs = intFlag(p, 'batch-size', 16), seed = intFlag(p, 'seed', 0, 0);
  const pcaCount = intFlag(p, 'pca-count', 16);
  const pcaFit = choiceFlag(p, 'pca-fit', ['per-image', 'batch'], 'per-image');
  const limit = p.flags.has('limit') ? intFlag(p, 'limit', 0) : undefined;
  const resolution = p.flags.has('resolution') ? intFlag(p, 'resolution', 0) : undefined;
  await backendFromFlags(p);
  const vae = await vaeFromFlags(p);
  if (vae === undefined) throw new UsageError('no VAE: give --vae FILE|DIR or --run DIR');
  if (normalize && vae.stats === undefined) throw new UsageError('--normalize needs latent statistics: --run DIR, --latents-stats FILE, or a VAE bundle with them');
  const src = openImageSource(stringFlag(p, 'data', ''), { ...(limit === undefined ? {} : { limit }), ...(resolution === undefined ? {} : { resolution }) });
  const parts: T<never>[] = [];
  const labels: number[] = [];
  const bar = progressBar({ label: 'encode', total: src.length, unit: 'img' });
  let b = 0;
  try {
    for (const batch of src.batches(bs)) {
      const f = vaeDownsampling(vae.cfg);
      if (batch.shape[1] % f !== 0 || batch.shape[2] % f !== 0)
        throw new UsageError(`images are ${batch.shape[2]}×${batch.shape[1]}, not divisible by the VAE's downsampling ${f} (use --resolution)`);
      parts.push(encodeImages(vae.params, batch.pixels, batch.shape, { mode, key: fold(rngKey(seed), b++), ...(normalize && vae.stats !== undefined ? { normalize: vae.stats } : {}) }));
      labels.push(...batch.labels);
      bar.update(labels.length);
    }
    bar.finish();
    if (parts.length === 0) throw new UsageError(`--data '${src.name}' holds no images`);
    const all = parts.length === 1 ? parts[0]! : concat(parts, 0);
    const shape = all.shape as [number, number, number, number];
    const data = await read(all);
    if (all !== parts[0]) dispose(all);
    mkdirSync(dirname(out) || '.', { recursive: true });
    const entries = new Map([
      ['latents', { dtype: 'F32' as const, shape, data }],
      ['labels', { dtype: 'I32' as const, shape: [labels.length], data: Int32Array.from(labels) }],
    ]);
    if (vae.stats !== undefined) {
      const c = vae.stats.scale.length;
      entries.set('latents_scale', { dtype: 'F32', shape: [1, c, 1, 1], data: vae.stats.scale });
      entries.set('latents_bias', { dtype: 'F32', shape: [1, c, 1, 1], data: vae.stats.bias });
    }
    writeSafetensorsFile(out, entries, { layout: 'NHWC', mode, normalized: String(normalize), vae: vae.source, data: src.name });
    console.log(`wrote ${out}: latents [${shape.join(', ')}] (${normalize ? 'normalised' : 'raw'} posterior ${mode})`);
    if (p.flags.has('pca')) {
      const pca = stringFlag(p, 'pca', '');
      const k = Math.min(pcaCount, shape[0]);
      const png = await latentPcaPng({ data: data.subarray(0, k * shape[1] * shape[2] * shape[3]), shape: [k, shape[1], shape[2], shape[3]] }, { scale: vaeDownsampling(vae.cfg), fit: pcaFit, nrow: Math.ceil(Math.sqrt(k)) });
      mkdirSync(dirname(pca) || '.', { recursive: true });
      writeFileAtomic(pca, png);
      console.log(`wrote ${pca}: latent PCA of ${k} image(s)`);
    }
  } finally {
    dispose([parts, vae.params]);
  }
  return 0;
}
