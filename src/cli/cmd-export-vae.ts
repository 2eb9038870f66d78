/**
 * @file `repae export-vae`: a run's end-to-end-tuned VAE as the official bundle (the safetensors
 * form of `save_vae_weights.py`'s `.pt` files) and in the diffusers layout, with the latent
 * statistics of the EMA BatchNorm (spec §5.7). Pure host work: no backend is needed.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { loadCheckpoint, requireDtypes, type LoadedCheckpoint } from '../io/checkpoint.js';
import type { SafeFile, SafeWriteEntry } from '../io/safetensors.js';
import { diffusersVaeConfig, vaeStateDictToDiffusers } from '../io/statedict/diffusers-vae.js';
import { stripWrapperPrefixes } from '../io/statedict/sit.js';
import { vaeConfigFromStateDict } from '../io/statedict/vae.js';
import { writeSafetensorsFile } from '../io/tensors.js';
import { ModelLoadError, resolveCheckpoint } from '../generate/models.js';
import { parseArgs, stringFlag, switchFlag, UsageError } from './args.js';
import { checkOutput } from './errors.js';

/** Usage text of `repae export-vae`. @category utility types */
export const EXPORT_VAE_USAGE = `usage: repae export-vae --run DIR [--vae-name NAME] [--save-dir DIR] [--diffusers-dir DIR] [--force]

Exports a run's VAE (official save_vae_weights.py, as safetensors) from its newest complete
checkpoint (or --run <run>/checkpoints/<step:07d>):
  <save-dir>/<name>/<name>.safetensors                     VAE state dict (official names)
  <save-dir>/<name>/<name>-latents-stats.safetensors       latents_scale = ema bn.running_var^-1/2,
                                                           latents_bias = ema bn.running_mean, [1, C, 1, 1]
  <save-dir>/<name>/<name>-discriminator-ckpt.safetensors  discriminator state dict (when the run has one)
and the diffusers AutoencoderKL layout:
  <diffusers-dir>/config.json                              with latents_mean / latents_std set from the stats
  <diffusers-dir>/diffusion_pytorch_model.safetensors
  <diffusers-dir>/latents_stats.safetensors                latents_scale, latents_bias as above

flags:
  --run DIR            run directory or checkpoint directory (required)
  --vae-name NAME      bundle name (default e2e-vae, as save_vae_weights.py)
  --save-dir DIR       output root (default: the run directory, so each run keeps its own export)
  --diffusers-dir DIR  diffusers output (default <save-dir>/<name>-hf, like the published …-hf repos)
  --force              overwrite files of an earlier export (default: refuse)`;

/** The files {@link exportVae} wrote. @category io */
export interface ExportedVae {
  readonly vae: string;
  readonly stats: string;
  readonly discriminator: string | undefined;
  readonly diffusersDir: string;
  readonly step: number;
}

const sectionOf = (ck: LoadedCheckpoint, names: readonly string[]): SafeFile | undefined => names.map((n) => ck.sections[n]).find((s) => s !== undefined);

/** The EMA BatchNorm statistics as official `[1, C, 1, 1]` entries (`scale = var^-1/2` in float32, no eps). */
function statsEntries(ema: SafeFile, where: string): { scale: Float32Array; bias: Float32Array; entries: Map<string, SafeWriteEntry> } {
  const get = (k: string): ArrayLike<number> => {
    for (const [key, e] of ema.entries) if (stripWrapperPrefixes(key) === k) return e.data;
    throw new ModelLoadError(`${where}: the EMA SiT has no '${k}' (its latent BatchNorm buffers give the latent statistics)`);
  };
  const v = get('bn.running_var'), m = get('bn.running_mean');
  const c = v.length;
  const scale = Float32Array.from(v, (x) => Math.fround(1 / Math.sqrt(x))), bias = Float32Array.from(m);
  return {
    scale, bias,
    entries: new Map([
      ['latents_scale', { dtype: 'F32', shape: [1, c, 1, 1], data: scale }],
      ['latents_bias', { dtype: 'F32', shape: [1, c, 1, 1], data: bias }],
    ]),
  };
}

/**
 * Writes the official VAE bundle and the diffusers directory of a run's checkpoint (see
 * {@link EXPORT_VAE_USAGE}); the diffusers `config.json` also carries `latents_mean = bias` and
 * `latents_std = 1/scale` (diffusers' own fields for per-channel latent statistics).
 * @category io
 */
export function exportVae(runOrCheckpoint: string, opts: { readonly name?: string; readonly saveDir?: string; readonly diffusersDir?: string; readonly force?: boolean } = {}): ExportedVae {
  const name = opts.name ?? 'e2e-vae';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new UsageError(`--vae-name must be a file-name-safe name, got '${name}'`);
  const ckInfo = resolveCheckpoint(runOrCheckpoint);
  const ckPath = typeof ckInfo === 'string' ? ckInfo : ckInfo.path;
  const saveDir = opts.saveDir ?? ckPath.replace(/[/\\]+$/, '').replace(/[/\\]checkpoints[/\\]\d{7,}$/, '');
  const dir = join(saveDir, name), hf = opts.diffusersDir ?? join(saveDir, `${name}-hf`);
  const targets = [join(dir, `${name}.safetensors`), join(dir, `${name}-latents-stats.safetensors`), join(dir, `${name}-discriminator-ckpt.safetensors`), ...['diffusion_pytorch_model.safetensors', 'latents_stats.safetensors', 'config.json'].map((f) => join(hf, f))];
  for (const t of targets) checkOutput(t, opts.force === true, t.startsWith(hf) ? 'diffusers-dir' : 'save-dir');
  const available = typeof ckInfo === 'string' ? undefined : ckInfo.sections;
  for (const s of ['vae', 'ema'])
    if (available !== undefined && !available.includes(s))
      throw new ModelLoadError(`${ckPath}: checkpoint has no section '${s}' (has: ${available.join(', ')})`);
  const discName = available === undefined ? undefined : ['disc', 'discriminator'].find((s) => available.includes(s));
  const ck = loadCheckpoint(ckInfo, { sections: ['vae', 'ema', ...(discName === undefined ? [] : [discName])] });
  const vae = sectionOf(ck, ['vae']) as SafeFile, ema = sectionOf(ck, ['ema']) as SafeFile;
  for (const [n, f] of Object.entries(ck.sections)) requireDtypes(f, `${ckPath}/${n}.safetensors`);
  const cfg = vaeConfigFromStateDict(vae.entries);
  const stats = statsEntries(ema, `${ckPath}/ema.safetensors`);
  if (stats.scale.length !== cfg.embedDim) throw new ModelLoadError(`${ckPath}: the EMA BatchNorm has ${stats.scale.length} channels, the VAE ${cfg.embedDim} latent channels`);
  const meta = { source: ckPath, step: String(ck.step), format: 'pt' };

  mkdirSync(dir, { recursive: true });
  const vaePath = join(dir, `${name}.safetensors`), statsPath = join(dir, `${name}-latents-stats.safetensors`);
  writeSafetensorsFile(vaePath, vae.entries, meta);
  writeSafetensorsFile(statsPath, stats.entries, meta);
  let discPath: string | undefined;
  const disc = discName === undefined ? undefined : ck.sections[discName];
  if (disc !== undefined) {
    discPath = join(dir, `${name}-discriminator-ckpt.safetensors`);
    writeSafetensorsFile(discPath, disc.entries, meta);
  }

  mkdirSync(hf, { recursive: true });
  writeSafetensorsFile(join(hf, 'diffusion_pytorch_model.safetensors'), vaeStateDictToDiffusers(vae.entries), meta);
  writeSafetensorsFile(join(hf, 'latents_stats.safetensors'), stats.entries, meta);
  const config = {
    ...diffusersVaeConfig(cfg),
    latents_mean: Array.from(stats.bias),
    latents_std: Array.from(stats.scale, (s) => 1 / s),
  };
  writeFileAtomic(join(hf, 'config.json'), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  return { vae: vaePath, stats: statsPath, discriminator: discPath, diffusersDir: hf, step: ck.step };
}

/** Implements `repae export-vae`. @category utility types */
export async function exportVaeCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(EXPORT_VAE_USAGE);
    return 0;
  }
  const p = parseArgs(argv, ['run', 'vae-name', 'save-dir', 'diffusers-dir'], ['force']);
  if (p.positional.length > 0) throw new UsageError(`unexpected argument '${p.positional[0]}' (see repae export-vae --help)`);
  if (!p.flags.has('run')) throw new UsageError('missing --run DIR (the run or checkpoint directory to export from)');
  const run = stringFlag(p, 'run', '');
  if (!existsSync(run)) throw new ModelLoadError(`${run}: no such run or checkpoint directory`);
  const r = exportVae(run, {
    name: stringFlag(p, 'vae-name', 'e2e-vae'),
    ...(p.flags.has('save-dir') ? { saveDir: stringFlag(p, 'save-dir', '') } : {}),
    force: switchFlag(p, 'force'),
    ...(p.flags.has('diffusers-dir') ? { diffusersDir: stringFlag(p, 'diffusers-dir', '') } : {}),
  });
  console.log(`exported the VAE of step ${r.step}:\n  ${r.vae}\n  ${r.stats}${r.discriminator === undefined ? '\n  (no discriminator section in the checkpoint)' : `\n  ${r.discriminator}`}\n  ${r.diffusersDir}/{config.json, diffusion_pytorch_model.safetensors, latents_stats.safetensors}`);
  return 0;
}
