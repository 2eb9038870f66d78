/** @file The run configuration of `repae train`: the official flag set with its defaults, decoded with io-ts. */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import type { Context, ValidationError } from 'io-ts';

const Positive = t.refinement(t.number, (n) => n > 0 && Number.isFinite(n), 'PositiveNumber');
const NonNegative = t.refinement(t.number, (n) => n >= 0 && Number.isFinite(n), 'NonNegativeNumber');
const PositiveInt = t.refinement(t.number, (n) => Number.isInteger(n) && n > 0, 'PositiveInteger');
const NonNegativeInt = t.refinement(t.number, (n) => Number.isInteger(n) && n >= 0, 'NonNegativeInteger');

/**
 * The io-ts codec of a training run. Field names are the official `train_repae.py` flags in
 * camelCase (`--vae-align-proj-coeff` ↔ `vaeAlignProjCoeff`); defaults are the official ones,
 * except the model sizes, which default to a tiny CPU-friendly configuration.
 * @category io
 */
export const RunConfigCodec = t.type({
  /** `repae-e` (end to end), `ldm` (frozen VAE, REPA), `vanilla` (frozen VAE, no REPA), `naive-e2e` (ablation: diffusion loss into the VAE). */
  mode: t.keyof({ 'repae-e': null, ldm: null, vanilla: null, 'naive-e2e': null }),
  outputDir: t.string,
  expName: t.string,
  seed: NonNegativeInt,
  backend: t.keyof({ auto: null, wasm: null, webgpu: null, tensorflow: null, cpu: null }),
  // model
  model: t.string,
  sitDepth: PositiveInt,
  sitHidden: PositiveInt,
  sitHeads: PositiveInt,
  patchSize: PositiveInt,
  encoderDepth: PositiveInt,
  projectorDim: PositiveInt,
  qkNorm: t.boolean,
  bnMomentum: Positive,
  numClasses: PositiveInt,
  cfgProb: NonNegative,
  vae: t.string,
  vaeCh: PositiveInt,
  vaeChMult: t.array(PositiveInt),
  vaeEmbedDim: PositiveInt,
  discNdf: PositiveInt,
  discLayers: PositiveInt,
  encType: t.string,
  /** Training steps of the built-in encoder (encType builtin) before it is frozen. */
  encoderSteps: NonNegativeInt,
  resolution: PositiveInt,
  // data
  dataDir: t.string,
  batchSize: PositiveInt,
  // optimisation
  maxTrainSteps: PositiveInt,
  learningRate: Positive,
  vaeLearningRate: Positive,
  discLearningRate: Positive,
  adamBeta1: NonNegative,
  adamBeta2: NonNegative,
  adamWeightDecay: NonNegative,
  adamEpsilon: Positive,
  maxGradNorm: Positive,
  emaDecay: NonNegative,
  // objectives
  pathType: t.keyof({ linear: null, cosine: null }),
  prediction: t.literal('v'),
  weighting: t.keyof({ uniform: null, lognormal: null }),
  projCoeff: NonNegative,
  vaeAlignProjCoeff: NonNegative,
  klWeight: NonNegative,
  perceptualWeight: NonNegative,
  discWeight: NonNegative,
  discriminatorStart: NonNegativeInt,
  // cadence
  checkpointingSteps: PositiveInt,
  keepCheckpoints: PositiveInt,
  samplingSteps: PositiveInt,
  logEvery: PositiveInt,
  resume: t.boolean,
  /** A run directory whose latest checkpoint initialises the VAE and discriminator (e.g. a pretrained VAE for frozen-VAE training); '' for random init. */
  initFrom: t.string,
});

/** A decoded, validated run configuration. @category io */
export type RunConfig = t.TypeOf<typeof RunConfigCodec>;

/** The defaults (official values where the official code has one; tiny model sizes for CPU). @category io */
export const defaultRunConfig: RunConfig = {
  mode: 'repae-e', outputDir: 'exps', expName: 'repae-tiny', seed: 0, backend: 'auto',
  model: 'custom', sitDepth: 4, sitHidden: 64, sitHeads: 4, patchSize: 2, encoderDepth: 2, projectorDim: 128, qkNorm: false,
  bnMomentum: 0.1, numClasses: 10, cfgProb: 0.1,
  vae: 'custom', vaeCh: 32, vaeChMult: [1, 1, 2], vaeEmbedDim: 4, discNdf: 8, discLayers: 2, encType: 'builtin', encoderSteps: 300, resolution: 32,
  dataDir: 'builtin:shapes', batchSize: 16,
  maxTrainSteps: 400000, learningRate: 1e-4, vaeLearningRate: 1e-4, discLearningRate: 1e-4,
  adamBeta1: 0.9, adamBeta2: 0.999, adamWeightDecay: 0, adamEpsilon: 1e-8, maxGradNorm: 1, emaDecay: 0.9999,
  pathType: 'linear', prediction: 'v', weighting: 'uniform', projCoeff: 0.5, vaeAlignProjCoeff: 1.5,
  klWeight: 1e-6, perceptualWeight: 1, discWeight: 0.1, discriminatorStart: 0,
  checkpointingSteps: 50000, keepCheckpoints: 3, samplingSteps: 10000, logEvery: 10, resume: true, initFrom: '',
};

/** Thrown when a run config does not decode; the message names every bad field with its value. @category io */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const pathOf = (c: Context): string => c.map((e) => e.key).filter((k) => k !== '').join('.');

function describe(errors: readonly ValidationError[]): string {
  return errors
    .map((e) => {
      const last = e.context[e.context.length - 1];
      return `  ${pathOf(e.context) || '<root>'}: expected ${last?.type.name ?? '?'}, got ${JSON.stringify(e.value)}`;
    })
    .filter((s, i, a) => a.indexOf(s) === i)
    .join('\n');
}

/**
 * Decodes a partial config (e.g. from flags or a JSON file) over the defaults. Unknown fields are
 * errors (a typo must not silently fall back to a default); bad values name the field.
 * @category io
 */
export function decodeRunConfig(input: Readonly<Record<string, unknown>>, source = 'config'): RunConfig {
  const known = Object.keys(defaultRunConfig);
  const unknown = Object.keys(input).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new ConfigError(`${source}: unknown field(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const r = RunConfigCodec.decode({ ...defaultRunConfig, ...input });
  if (isLeft(r)) throw new ConfigError(`${source}: invalid run config\n${describe(r.left)}`);
  return r.right;
}

/** `--vae-align-proj-coeff` → `vaeAlignProjCoeff`. @category io */
export const flagToField = (flag: string): string => flag.replace(/^--/, '').replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** `vaeAlignProjCoeff` → `--vae-align-proj-coeff`. @category io */
export const fieldToFlag = (field: string): string => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Decodes command-line flags (kebab-case, official names) into a config: numbers, booleans
 * (`--qk-norm`, `--qk-norm=false`) and comma lists (`--vae-ch-mult 1,2,4`) are converted by the
 * default's type.
 * @category io
 */
export function configFromFlags(flags: ReadonlyMap<string, string | true>): RunConfig {
  const raw: Record<string, unknown> = {};
  for (const [flag, v] of flags) {
    const field = flagToField(flag);
    const d = (defaultRunConfig as Record<string, unknown>)[field];
    if (d === undefined) { raw[field] = v; continue; }
    if (typeof d === 'number') raw[field] = v === true ? NaN : Number(v);
    else if (typeof d === 'boolean') raw[field] = v === true || v === 'true' ? true : v === 'false' ? false : v;
    else if (Array.isArray(d)) raw[field] = v === true ? [] : String(v).split(',').map(Number);
    else raw[field] = v;
  }
  try {
    return decodeRunConfig(raw, 'flags');
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.message.replace(/  ([a-zA-Z]+):/g, (_, f: string) => `  ${fieldToFlag(f)}:`).replace(/unknown field\(s\) ([^(]+)/, (_, fs: string) => `unknown flag(s) ${fs.split(', ').map((f) => fieldToFlag(f.trim())).join(', ')} `));
    throw e;
  }
}
