/** @file `repae sample`: generate samples from a run (or explicit model files) into an ADM `.npz` and a PNG grid. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dispose } from '../core/scope.js';
import { generate } from '../generate/generate.js';
import { parseArgs, UsageError } from './args.js';
import { BACKEND_HELP, backendFromFlags, MODEL_FLAGS, MODEL_HELP, modelsFromFlags, runDirOf, SAMPLE_FLAGS, SAMPLE_HELP, sampleOptionsFromFlags } from './gen-common.js';

/** Usage text of `repae sample`. @category utility types */
export const SAMPLE_USAGE = `usage: repae sample (--run DIR | --sit FILE --vae FILE --config FILE) [flags]

Generates samples as the official generate.py does: EMA SiT, sampler with classifier-free guidance
on an interval, decoding z/latents_scale + latents_bias through the VAE, uint8 by truncation.
Writes <out>/<name>.npz (arr_0: uint8 [N, H, W, 3], the ADM evaluator layout; labels: int32 [N])
and <out>/<name>.png (a grid). Batches go to <out>/<name>.work/ first: rerunning the same command
after an interruption skips the finished batches.

${MODEL_HELP}

${SAMPLE_HELP}
  --force                sample again even when <out>/<name>.npz exists (default: nothing to do)

${BACKEND_HELP}`;

/** Implements `repae sample`. @category utility types */
export async function sampleCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(SAMPLE_USAGE);
    return 0;
  }
  const p = parseArgs(argv, [...MODEL_FLAGS, ...SAMPLE_FLAGS, 'backend'], ['keep-work', 'force']);
  if (p.positional.length > 0) throw new UsageError(`unexpected argument '${p.positional[0]}' (sample takes only flags; see repae sample --help)`);
  const backend = await backendFromFlags(p);
  const m = await modelsFromFlags(p);
  const opts = sampleOptionsFromFlags(p, m, runDirOf(p));
  const target = join(opts.outDir, `${opts.name ?? 'samples'}.npz`);
  if (existsSync(target) && p.flags.get('force') !== true) {
    dispose([m.sit, m.vae]);
    console.log(`${target} already exists; nothing to do (as generate.py; pass --force to sample again)`);
    return 0;
  }
  console.error(`sample: ${m.source} (step ${m.step}), SiT ${m.sitCfg.depth}×${m.sitCfg.hiddenSize} p${m.sitCfg.patchSize}, backend ${backend}`);
  try {
    const r = await generate({ sit: m.sit.sit, sitCfg: m.sitCfg, vae: m.vae, vaeCfg: m.vaeCfg, stats: m.stats }, opts);
    console.log(`wrote ${r.npz} (arr_0 uint8 [${r.shape.join(', ')}])${r.grid === undefined ? '' : ` and ${r.grid}`}; ${r.sampled} batch(es) sampled, ${r.reused} reused, ${r.seconds.toFixed(1)} s`);
  } finally {
    dispose([m.sit, m.vae]);
  }
  return 0;
}
