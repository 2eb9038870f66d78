/** @file `repae decode`: latents (safetensors) → images: a PNG grid, optionally an ADM `.npz` and one PNG per image. */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { slice, tensor, transpose } from '../core/ops/index.js';
import { dispose } from '../core/scope.js';
import { decodeToUint8 } from '../generate/codec.js';
import type { LatentStats } from '../generate/models.js';
import { writeFileAtomic } from '../io/atomic.js';
import { writeNpz } from '../io/npz.js';
import { encodePng, gridImage } from '../io/png.js';
import { readSafetensorsFile } from '../io/tensors.js';
import { parseArgs, stringFlag, switchFlag, UsageError } from './args.js';
import { checkOutput } from './errors.js';
import { FLOAT_DTYPES } from '../io/checkpoint.js';
import { BACKEND_HELP, backendFromFlags, choiceFlag, intFlag, MODEL_FLAGS, vaeFromFlags } from './gen-common.js';
import { progressBar } from './progress.js';

/** Usage text of `repae decode`. @category utility types */
export const DECODE_USAGE = `usage: repae decode --latents FILE.safetensors (--vae FILE|DIR | --run DIR) [flags]

Decodes latents with the VAE (z/latents_scale + latents_bias first when they are normalised) and
writes a PNG grid; uint8 conversion truncates, as generate.py.

flags:
  --latents FILE       safetensors holding the latents (e.g. from repae encode)
  --key NAME           entry to decode (default: 'latents', else the only rank-4 entry)
  --layout nhwc|nchw   layout of the entry (default: the file's layout metadata, else nhwc)
  --normalized auto|true|false   whether the latents are normalised (default auto: the file's
                       metadata); normalised latents are mapped back with the file's
                       latents_scale/latents_bias, else the run's/VAE bundle's statistics
  --out FILE.png       grid output (default <latents>.png)
  --nrow N             images per grid row (default ⌈√N⌉)
  --npz FILE           also write the images as an ADM .npz (arr_0 uint8 [N, H, W, 3])
  --png-dir DIR        also write one PNG per image, {index:06d}.png (as generate.py)
  --limit N            decode at most N latents
  --batch-size B       latents per batch (default 16)
  --force              overwrite existing outputs (--out, --npz, files in --png-dir; never an input)
  --vae FILE|DIR, --run DIR, --latents-stats FILE   the VAE (and statistics), as in repae encode
${BACKEND_HELP}`;

/** Implements `repae decode`. @category utility types */
export async function decodeCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(DECODE_USAGE);
    return 0;
  }
  const p = parseArgs(argv, [...MODEL_FLAGS, 'latents', 'key', 'layout', 'normalized', 'out', 'nrow', 'npz', 'png-dir', 'limit', 'batch-size', 'backend'], ['force']);
  if (p.positional.length > 0) throw new UsageError(`unexpected argument '${p.positional[0]}' (see repae decode --help)`);
  if (!p.flags.has('latents')) throw new UsageError('missing --latents FILE.safetensors');
  const file = stringFlag(p, 'latents', '');
  if (!existsSync(file)) throw new UsageError(`--latents '${file}': no such file`);
  const force = switchFlag(p, 'force');
  const inputs = { latents: file, vae: p.flags.has('vae') ? stringFlag(p, 'vae', '') : undefined, 'latents-stats': p.flags.has('latents-stats') ? stringFlag(p, 'latents-stats', '') : undefined };
  const out = stringFlag(p, 'out', file.replace(/\.safetensors$/, '') + '.png');
  if (!out.endsWith('.png')) throw new UsageError(`--out must name a .png file, got '${out}'`);
  checkOutput(out, force, 'out', inputs);
  if (p.flags.has('npz')) {
    const npz = stringFlag(p, 'npz', '');
    if (!npz.endsWith('.npz')) throw new UsageError(`--npz must name a .npz file, got '${npz}'`);
    checkOutput(npz, force, 'npz', { ...inputs, out });
  }
  const st = readSafetensorsFile(file);
  const name = p.flags.has('key') ? stringFlag(p, 'key', '') : st.entries.has('latents') ? 'latents' : [...st.entries].filter(([, e]) => e.shape.length === 4).map(([k]) => k)[0];
  const e = name === undefined ? undefined : st.entries.get(name);
  if (e === undefined || name === undefined)
    throw new UsageError(`${file}: no ${p.flags.has('key') ? `entry '${stringFlag(p, 'key', '')}'` : "'latents' entry and no rank-4 entry"} (has: ${[...st.entries.keys()].join(', ')}); use --key`);
  if (e.shape.length !== 4) throw new UsageError(`${file}: entry '${name}' has shape [${e.shape.join(', ')}], expected rank 4 latents`);
  if (!FLOAT_DTYPES.includes(e.dtype)) throw new UsageError(`${file}: entry '${name}' has dtype ${e.dtype}, expected float latents (${FLOAT_DTYPES.join(', ')}); its values would decode to garbage`);
  for (const k of ['latents_scale', 'latents_bias']) {
    const se = st.entries.get(k);
    if (se !== undefined && !FLOAT_DTYPES.includes(se.dtype)) throw new UsageError(`${file}: entry '${k}' has dtype ${se.dtype}, expected ${FLOAT_DTYPES.join(' or ')}`);
  }
  const layout = choiceFlag(p, 'layout', ['nhwc', 'nchw'], (st.metadata['layout'] ?? 'NHWC').toLowerCase() === 'nchw' ? 'nchw' : 'nhwc');
  const normFlag = choiceFlag(p, 'normalized', ['auto', 'true', 'false'], 'auto');
  const normalized = normFlag === 'auto' ? st.metadata['normalized'] === 'true' : normFlag === 'true';
  const bs = intFlag(p, 'batch-size', 16);
  const n = Math.min(e.shape[0] as number, p.flags.has('limit') ? intFlag(p, 'limit', 1) : Infinity);
  if (p.flags.has('png-dir') && !force) {
    const dir = stringFlag(p, 'png-dir', '');
    for (let i = 0; i < n; i++) checkOutput(join(dir, `${String(i).padStart(6, '0')}.png`), false, 'png-dir');
  }
  await backendFromFlags(p);
  const vae = await vaeFromFlags(p);
  if (vae === undefined) throw new UsageError('no VAE: give --vae FILE|DIR or --run DIR');
  let stats: LatentStats | undefined;
  if (normalized) {
    const s = st.entries.get('latents_scale'), b = st.entries.get('latents_bias');
    stats = s !== undefined && b !== undefined ? { scale: Float32Array.from(s.data), bias: Float32Array.from(b.data) } : vae.stats;
    if (stats === undefined) throw new UsageError(`${file}: the latents are normalised but neither the file (latents_scale/latents_bias) nor the VAE gives statistics; pass --run DIR or --latents-stats FILE`);
  }
  const all = tensor(e.data instanceof Float32Array ? e.data : Float32Array.from(e.data), e.shape);
  const nhwc = layout === 'nchw' ? transpose(all, [0, 2, 3, 1]) : all;
  const [, h, w, c] = nhwc.shape as [number, number, number, number];
  if (c !== vae.cfg.embedDim) {
    dispose([all, nhwc, vae.params]);
    throw new UsageError(`${file}: '${name}' has ${c} channels (layout ${layout}), the VAE takes ${vae.cfg.embedDim}; check --layout`);
  }
  const bar = progressBar({ label: 'decode', total: n, unit: 'img' });
  let images: Uint8Array | undefined;
  let H = 0, W = 0;
  try {
    for (let s = 0; s < n; s += bs) {
      const m = Math.min(bs, n - s);
      const z = slice(nhwc, [s, 0, 0, 0], [m, h, w, c]);
      try {
        const r = await decodeToUint8(vae.params, z, stats);
        [, H, W] = r.shape;
        images ??= new Uint8Array(n * H * W * 3);
        images.set(r.data, s * H * W * 3);
      } finally {
        dispose(z);
      }
      bar.update(s + m);
    }
    bar.finish();
  } finally {
    dispose([all, nhwc, vae.params]);
  }
  if (images === undefined) throw new UsageError(`${file}: '${name}' holds no latents`);
  mkdirSync(dirname(out) || '.', { recursive: true });
  writeFileAtomic(out, encodePng(gridImage({ data: images, shape: [n, H, W, 3] }, { nrow: intFlag(p, 'nrow', Math.ceil(Math.sqrt(n))) })));
  console.log(`wrote ${out}: ${n} image(s) ${W}×${H}`);
  if (p.flags.has('npz')) {
    const npz = stringFlag(p, 'npz', '');
    mkdirSync(dirname(npz) || '.', { recursive: true });
    writeNpz(npz, { arr_0: { dtype: 'uint8', shape: [n, H, W, 3], data: images } });
    console.log(`wrote ${npz}: arr_0 uint8 [${n}, ${H}, ${W}, 3]`);
  }
  if (p.flags.has('png-dir')) {
    const dir = stringFlag(p, 'png-dir', '');
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < n; i++)
      writeFileAtomic(join(dir, `${String(i).padStart(6, '0')}.png`), encodePng({ width: W, height: H, channels: 3, data: images.subarray(i * H * W * 3, (i + 1) * H * W * 3) }));
    console.log(`wrote ${n} PNG(s) to ${dir}`);
  }
  return 0;
}
