/** @file Flags shared by `repae sample`, `eval`, `encode`, `decode`: backend choice, model sources and sampler settings. */
import { useBackend, useBestBackend, backendNames, type BackendName } from '../backends/index.js';
import type { GenerateOptions, LabelMode, SamplerName } from '../generate/generate.js';
import { loadModelFiles, loadRunModels, loadVae, ModelLoadError, readLatentStats, resolveCheckpoint, type LoadedModels, type LoadedVae, type SitWeightsChoice } from '../generate/models.js';
import { intFlag, numberFlag, stringFlag, UsageError, type Parsed } from './args.js';
import { progressBar } from './progress.js';
import { THREADS_HELP } from './threads-flag.js';

/** Flag names of {@link modelsFromFlags}. @category utility types */
export const MODEL_FLAGS = ['run', 'sit', 'vae', 'config', 'latents-stats', 'weights'] as const;

/** Help lines of the model flags. @category utility types */
export const MODEL_HELP = `models (either a run, or explicit files):
  --run DIR              a run directory (its newest complete checkpoint) or one checkpoint
                         directory (<run>/checkpoints/<step:07d>); sections ema/sit/vae hold official
                         state-dict names, state.json's config is the RunConfig
  --sit FILE             SiT state dict (.safetensors, official names incl. bn.* buffers)
  --vae FILE|DIR         VAE: official or diffusers .safetensors, or a diffusers directory
                         (with --run: replaces the checkpoint's vae section)
  --config FILE          run config JSON (a RunConfig, or a checkpoint's state.json); with --sit
  --latents-stats FILE   latents_scale/latents_bias safetensors to decode with
                         (default: the EMA BatchNorm running statistics, scale = var^-1/2)
  --weights ema|model    SiT weights of a run (default ema)`;

/** Help line of `--backend`. @category utility types */
export const BACKEND_HELP = `  --backend NAME         auto (default: torch:cuda, tensorflow, torch, wasm, cpu — the first that runs), ${backendNames.join(', ')}\n${THREADS_HELP}`;

/**
 * Activates a backend by name (`auto`: the fastest that runs here) and returns its name; an unknown
 * name is a usage error naming the flag. The one backend helper of the CLI (`--backend` of every
 * command, and a run config's `backend`).
 * @category backends
 */
export async function activateBackend(name: string, flag = '--backend'): Promise<string> {
  if (name === 'auto') return useBestBackend();
  if (!(backendNames as readonly string[]).includes(name)) throw new UsageError(`${flag} expects auto or one of ${backendNames.join(', ')}, got '${name}'`);
  await useBackend(name as BackendName);
  return name;
}

/** Activates the backend named by `--backend` (default `auto`), see {@link activateBackend}. @category backends */
export const backendFromFlags = (p: Parsed): Promise<string> => activateBackend(stringFlag(p, 'backend', 'auto'));

/** An integer flag ≥ `min`, naming the flag on error (re-exported from args.ts). @category utility types */
export { intFlag };

/** A flag restricted to a list of values, naming the flag on error. @category utility types */
export function choiceFlag<C extends string>(p: Parsed, name: string, choices: readonly C[], dflt: C): C {
  const v = stringFlag(p, name, dflt);
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} expects one of ${choices.join(', ')}, got '${v}'`);
  return v as C;
}

/** Whether any of the model flags is present. @category utility types */
export const hasModelFlags = (p: Parsed): boolean => p.flags.has('run') || p.flags.has('sit');

/**
 * Loads models from `--run` (optionally `--vae`, `--latents-stats`, `--weights`), or from `--sit` +
 * `--vae` + `--config`. A missing combination is a {@link UsageError} naming the flags; load
 * failures name the path.
 * @category utility types
 */
export async function modelsFromFlags(p: Parsed): Promise<LoadedModels> {
  const run = p.flags.get('run'), sit = p.flags.get('sit');
  const weights = choiceFlag<SitWeightsChoice>(p, 'weights', ['ema', 'model'], 'ema');
  const vae = p.flags.has('vae') ? stringFlag(p, 'vae', '') : undefined;
  const stats = p.flags.has('latents-stats') ? stringFlag(p, 'latents-stats', '') : undefined;
  if (run !== undefined && sit !== undefined) throw new UsageError('give either --run or --sit/--vae/--config, not both');
  if (run !== undefined) {
    if (p.flags.has('config')) throw new UsageError('--config goes with --sit (a run carries its config in state.json)');
    return loadRunModels(stringFlag(p, 'run', ''), { weights, ...(vae === undefined ? {} : { vae }), ...(stats === undefined ? {} : { latentsStats: stats }) });
  }
  if (sit !== undefined) {
    const missing = ['vae', 'config'].filter((f) => !p.flags.has(f));
    if (missing.length > 0) throw new UsageError(`--sit needs ${missing.map((f) => `--${f}`).join(' and ')}`);
    return loadModelFiles({ sit: stringFlag(p, 'sit', ''), vae: vae as string, config: stringFlag(p, 'config', ''), ...(stats === undefined ? {} : { latentsStats: stats }) });
  }
  throw new UsageError('no models: give --run DIR, or --sit FILE --vae FILE --config FILE');
}

/**
 * A VAE alone (encode/decode/VAE metrics): `--vae FILE|DIR`, else the VAE (and EMA statistics) of
 * `--run`. Returns undefined when neither is given.
 * @category utility types
 */
export async function vaeFromFlags(p: Parsed): Promise<LoadedVae | undefined> {
  if (p.flags.has('vae') && !p.flags.has('run')) {
    const v = loadVae(stringFlag(p, 'vae', ''));
    if (p.flags.has('latents-stats')) return { ...v, stats: readLatentStats(stringFlag(p, 'latents-stats', '')) };
    return v;
  }
  if (p.flags.has('run') || p.flags.has('sit')) {
    const m = await modelsFromFlags(p);
    return { cfg: m.vaeCfg, params: m.vae, stats: m.stats, source: m.source };
  }
  return undefined;
}

/** Flag names of {@link sampleOptionsFromFlags}. @category utility types */
export const SAMPLE_FLAGS = ['num-samples', 'batch-size', 'seed', 'labels', 'sampler', 'num-steps', 'cfg-scale', 'guidance-low', 'guidance-high', 'path-type', 'out', 'name', 'grid'] as const;

/** Help lines of the sampler flags. @category utility types */
export const SAMPLE_HELP = `sampling (official generate.py defaults where it has them):
  --num-samples N        samples to generate (default 64)
  --batch-size B         samples per batch (default 16); samples depend on it
  --seed S               run seed (default 0); batch b draws from fold(key(S), b)
  --labels MODE          random (default, as generate.py) or balanced (j mod num_classes)
  --sampler NAME         euler (default), heun, sde (Euler–Maruyama; the README uses 250 steps)
  --num-steps N          sampler steps (default 50)
  --cfg-scale S          classifier-free guidance scale (default 1.0 = off)
  --guidance-low L       guidance interval [L, H] of t (default 0.0, 1.0; t = 1 is noise)
  --guidance-high H
  --path-type P          linear or cosine (default: the run's path type)
  --out DIR              output directory (default <run>/samples, or samples)
  --name NAME            base name (default <exp>_<step:07d>_<sampler><steps>_cfg<S>-<L>-<H>_seed<seed>)
  --grid K               samples in the PNG grid (default min(N, 64); 0 for none)
  --keep-work            keep the per-batch files after assembling`;

/** Sampler settings from flags, with the output directory and name defaulted from the models. @category utility types */
export function sampleOptionsFromFlags(p: Parsed, m: LoadedModels, runDir: string | undefined): GenerateOptions {
  const cfgScale = numberFlag(p, 'cfg-scale', 1), low = numberFlag(p, 'guidance-low', 0), high = numberFlag(p, 'guidance-high', 1);
  if (!(cfgScale >= 1)) throw new UsageError(`--cfg-scale expects a number ≥ 1 (generate.py asserts cfg_scale >= 1), got ${cfgScale}`);
  if (!(low >= 0 && low <= 1)) throw new UsageError(`--guidance-low expects a number in [0, 1], got ${low}`);
  if (!(high >= low && high <= 1)) throw new UsageError(`--guidance-high expects a number in [--guidance-low, 1], got ${high}`);
  const sampler = choiceFlag<SamplerName>(p, 'sampler', ['euler', 'heun', 'sde'], 'euler');
  const numSteps = intFlag(p, 'num-steps', 50, sampler === 'sde' ? 2 : 1);
  const seed = intFlag(p, 'seed', 0, 0);
  const labels = choiceFlag<LabelMode>(p, 'labels', ['random', 'balanced'], 'random');
  const pathType = choiceFlag(p, 'path-type', ['linear', 'cosine'], m.run.pathType);
  const exp = m.run.expName.replace(/[^A-Za-z0-9_.-]/g, '_');
  const dfltName = `${exp}_${String(m.step).padStart(7, '0')}_${sampler}${numSteps}_cfg${cfgScale}-${low}-${high}_seed${seed}`;
  return {
    progress: ({ label, total, initial }) => progressBar({ label, total, initial, unit: 'img' }),
    numSamples: intFlag(p, 'num-samples', 64),
    batchSize: intFlag(p, 'batch-size', 16),
    seed,
    labels,
    sampler,
    numSteps,
    cfgScale,
    guidanceLow: low,
    guidanceHigh: high,
    pathType,
    outDir: stringFlag(p, 'out', runDir === undefined ? 'samples' : `${runDir.replace(/[/\\]+$/, '')}/samples`),
    name: stringFlag(p, 'name', dfltName),
    gridSize: intFlag(p, 'grid', 64, 0),
    keepWork: p.flags.get('keep-work') === true || p.flags.get('keep-work') === 'true',
    source: `${m.source}@${m.step}`,
  };
}

/** The run directory behind `--run` (the run itself for a checkpoint directory), for default output paths. @category utility types */
export function runDirOf(p: Parsed): string | undefined {
  const r = p.flags.get('run');
  if (typeof r !== 'string') return undefined;
  try {
    const ck = resolveCheckpoint(r);
    const path = typeof ck === 'string' ? ck : ck.path;
    return path.replace(/[/\\]+$/, '').replace(/[/\\]checkpoints[/\\]\d{7,}$/, '');
  } catch (e) {
    if (e instanceof ModelLoadError) return r;
    throw e;
  }
}
