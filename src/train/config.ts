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
  backend: t.keyof({ auto: null, 'torch:cuda': null, torch: null, wasm: null, webgpu: null, tensorflow: null, cpu: null }),
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

/** Human-readable names of the codec types, for error messages. */
const typeText = (name: string): string =>
  ({ PositiveNumber: 'a positive number', NonNegativeNumber: 'a number ≥ 0', PositiveInteger: 'a positive integer', NonNegativeInteger: 'an integer ≥ 0', boolean: 'true or false', string: 'a string', number: 'a number' } as Record<string, string>)[name]
  ?? (/^"/.test(name) ? `one of ${name.replace(/"/g, '').split(' | ').join(', ')}` : name);

/** `vaeChMult.1` → `vaeChMult[1]`: a path through the config, naming list items by index. */
const pathOf = (c: Context): string[] => c.map((e) => e.key).filter((k) => k !== '');

function describe(errors: readonly ValidationError[], name: (path: readonly string[]) => string): string {
  return errors
    .map((e) => {
      const last = e.context[e.context.length - 1];
      const path = pathOf(e.context);
      return `  ${path.length === 0 ? '<root>' : name(path)}: expected ${typeText(last?.type.name ?? '?')}, got ${JSON.stringify(e.value) ?? String(e.value)}`;
    })
    .filter((s, i, a) => a.indexOf(s) === i)
    .join('\n');
}

const fieldPath = (path: readonly string[]): string => path.map((k, i) => (i > 0 && /^\d+$/.test(k) ? `[${k}]` : i > 0 ? `.${k}` : k)).join('');

/**
 * Decodes a partial config (e.g. from flags or a JSON file) over the defaults. Unknown fields are
 * errors (a typo must not silently fall back to a default); bad values name the field.
 * @category io
 */
export function decodeRunConfig(input: Readonly<Record<string, unknown>>, source = 'config'): RunConfig {
  return decodeNamed(input, source, fieldPath, (fs) => `unknown field(s) ${fs.join(', ')}`);
}

function decodeNamed(input: Readonly<Record<string, unknown>>, source: string, name: (path: readonly string[]) => string, unknownText: (fields: string[]) => string): RunConfig {
  const known = Object.keys(defaultRunConfig);
  const unknown = Object.keys(input).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new ConfigError(`${source}: ${unknownText(unknown)} (known: ${known.map((k) => name([k])).join(', ')})`);
  const r = RunConfigCodec.decode({ ...defaultRunConfig, ...input });
  if (isLeft(r)) throw new ConfigError(`${source}: invalid run config\n${describe(r.left, name)}`);
  return r.right;
}

/** `--vae-align-proj-coeff` → `vaeAlignProjCoeff`. @category io */
export const flagToField = (flag: string): string => flag.replace(/^--/, '').replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** `vaeAlignProjCoeff` → `--vae-align-proj-coeff`. @category io */
export const fieldToFlag = (field: string): string => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A config path as the flag that sets it: `vaeChMult.1` → `--vae-ch-mult (item 2)`. */
const flagPath = (path: readonly string[]): string => `${fieldToFlag(path[0] ?? '')}${path.length > 1 && /^\d+$/.test(path[1] ?? '') ? ` (item ${Number(path[1]) + 1})` : ''}`;

/**
 * Decodes command-line flags (kebab-case, official names) into a config: numbers, booleans
 * (`--qk-norm`, `--qk-norm=false`) and comma lists (`--vae-ch-mult 1,2,4`) are converted by the
 * default's type. Every error names the flag and quotes what was given (`--batch-size: expected a
 * number, got 'abc'`; `--vae-ch-mult: item 2 of '1,x,2' is 'x', not a positive integer`). The
 * cross-field rules are checked by {@link checkRunConfig}.
 * @category io
 */
export function configFromFlags(flags: ReadonlyMap<string, string | true>): RunConfig {
  const raw: Record<string, unknown> = {};
  const bad: string[] = [];
  for (const [flag, v] of flags) {
    const field = flagToField(flag);
    const d = (defaultRunConfig as Record<string, unknown>)[field];
    const text = v === true ? '' : String(v);
    if (d === undefined) raw[field] = v;
    else if (typeof d === 'number') {
      const n = text.trim() === '' ? NaN : Number(text);
      if (!Number.isFinite(n)) bad.push(`  --${flag}: expected a number, got '${text}'`);
      else raw[field] = n;
    } else if (typeof d === 'boolean') raw[field] = v === true || v === 'true' ? true : v === 'false' ? false : v;
    else if (Array.isArray(d)) {
      const items = text.split(',');
      const i = items.findIndex((x) => !/^\s*\d+\s*$/.test(x) || Number(x) < 1);
      if (i >= 0) bad.push(`  --${flag}: item ${i + 1} of '${text}' is '${items[i]}', not a positive integer (expected a comma list such as 1,2,4)`);
      else raw[field] = items.map(Number);
    } else raw[field] = v;
  }
  if (bad.length > 0) throw new ConfigError(`flags: invalid value(s)\n${bad.join('\n')}`);
  return decodeNamed(raw, 'flags', flagPath, (fs) => `unknown flag(s) ${fs.map(fieldToFlag).join(', ')}`);
}

/** The spatial size left after the PatchGAN discriminator (k4/p1 convs; stride 2 for all but the last stage, then two stride-1 convs). */
const discOutputSize = (resolution: number, layers: number): number => {
  let size = resolution;
  for (let i = 0; i < layers; i++) size = Math.floor((size - 2) / 2) + 1;
  return size - 2;
};

/**
 * The cross-field rules of a training config, checked before any work starts; returns one line
 * per violated rule, each naming the flag(s) and the rule (empty when the config is trainable):
 * VAE widths (`--vae-ch` × each `--vae-ch-mult`) multiples of 32 (GroupNorm groups), `--resolution`
 * divisible by the VAE factor `2^(levels−1)` and the latent side by `--patch-size`, `--sit-hidden`
 * divisible by `--sit-heads` and by 4, `--encoder-depth ≤ --sit-depth`, the discriminator leaving
 * patch logits, probabilities/decays in range, and the supported `--model`/`--vae`/`--enc-type`.
 * @category io
 */
export function runConfigProblems(c: RunConfig): string[] {
  const out: string[] = [];
  const mult = c.vaeChMult.join(',');
  if (c.model !== 'custom') out.push(`--model ${c.model}: repae train builds the SiT from --sit-depth/--sit-hidden/--sit-heads; use --model custom`);
  if (c.vae !== 'custom') out.push(`--vae ${c.vae}: repae train builds the VAE from --vae-ch/--vae-ch-mult/--vae-embed-dim (use --init-from RUN for pretrained VAE weights); use --vae custom`);
  if (c.encType !== 'builtin' && !/^mobilenet:[^:]+(:[^:]*){0,2}$/.test(c.encType)) out.push(`--enc-type ${c.encType}: expected builtin or mobilenet:<tfjs-model-dir>[:layer[:size]]`);
  const narrow = c.vaeChMult.filter((m) => (c.vaeCh * m) % 32 !== 0);
  if (narrow.length > 0)
    out.push(`--vae-ch ${c.vaeCh} with --vae-ch-mult ${mult}: level width${narrow.length > 1 ? 's' : ''} ${narrow.map((m) => c.vaeCh * m).join(', ')} ${narrow.length > 1 ? 'are' : 'is'} not a multiple of 32 (each --vae-ch × --vae-ch-mult must split into 32 GroupNorm groups)`);
  const f = 2 ** (c.vaeChMult.length - 1);
  if (c.resolution % f !== 0) out.push(`--resolution ${c.resolution}: not divisible by the VAE downsampling factor ${f} (2^(levels−1) for --vae-ch-mult ${mult})`);
  else if ((c.resolution / f) % c.patchSize !== 0)
    out.push(`--patch-size ${c.patchSize}: the latent side --resolution ${c.resolution} / ${f} = ${c.resolution / f} is not divisible by it`);
  if (c.sitHidden % c.sitHeads !== 0) out.push(`--sit-heads ${c.sitHeads}: --sit-hidden ${c.sitHidden} is not divisible by it (each head needs a whole width)`);
  if (c.sitHidden % 4 !== 0) out.push(`--sit-hidden ${c.sitHidden}: must be divisible by 4 (2-D sin-cos positional embedding)`);
  if (c.encoderDepth > c.sitDepth) out.push(`--encoder-depth ${c.encoderDepth}: exceeds --sit-depth ${c.sitDepth} (the projectors read the output of block --encoder-depth)`);
  if (discOutputSize(c.resolution, c.discLayers) < 1) out.push(`--disc-layers ${c.discLayers}: too many for --resolution ${c.resolution} (no discriminator patch logits would remain)`);
  if (!(c.cfgProb < 1)) out.push(`--cfg-prob ${c.cfgProb}: must be < 1`);
  if (!(c.bnMomentum <= 1)) out.push(`--bn-momentum ${c.bnMomentum}: must be ≤ 1`);
  if (!(c.emaDecay <= 1)) out.push(`--ema-decay ${c.emaDecay}: must be ≤ 1`);
  if (!(c.adamBeta1 < 1) || !(c.adamBeta2 < 1)) out.push(`--adam-beta1 ${c.adamBeta1} / --adam-beta2 ${c.adamBeta2}: must be < 1`);
  return out;
}

/** Throws a {@link ConfigError} listing every rule of {@link runConfigProblems} the config violates. @category io */
export function checkRunConfig(c: RunConfig, source = 'flags'): RunConfig {
  const p = runConfigProblems(c);
  if (p.length === 1) throw new ConfigError(`${source}: ${p[0]}`);
  if (p.length > 1) throw new ConfigError(`${source}: the run configuration breaks ${p.length} rules\n${p.map((l) => `  ${l}`).join('\n')}`);
  return c;
}

/** Thrown when a resumed run's flags differ from its saved config; lists each differing flag. @category io */
export class ConfigMismatchError extends Error {
  override readonly name = 'ConfigMismatchError';
}

/**
 * Fields that may change between a run and its resumption without changing the experiment (where
 * and how often it logs and checkpoints, how long it runs, the backend): such changes are recorded
 * in the run's config history, never refused.
 * @category io
 */
export const CADENCE_FIELDS: readonly string[] = ['resume', 'backend', 'outputDir', 'expName', 'maxTrainSteps', 'logEvery', 'samplingSteps', 'checkpointingSteps', 'keepCheckpoints'];

/** One field that differs between a saved config and a new one. @category io */
export interface ConfigChange {
  readonly field: string;
  /** The flag that sets it (`--learning-rate`). */
  readonly flag: string;
  readonly saved: unknown;
  readonly now: unknown;
  /** Whether it is a {@link CADENCE_FIELDS} field (allowed without asking). */
  readonly cadence: boolean;
}

/** Every field whose value differs between a saved config (raw JSON) and `now`, in field order. @category io */
export function configChanges(saved: Readonly<Record<string, unknown>>, now: RunConfig): ConfigChange[] {
  const fields = [...new Set([...Object.keys(defaultRunConfig), ...Object.keys(saved)])];
  const cur = now as unknown as Record<string, unknown>;
  return fields
    .filter((f) => JSON.stringify(saved[f] ?? (defaultRunConfig as unknown as Record<string, unknown>)[f]) !== JSON.stringify(cur[f]))
    .map((f) => ({ field: f, flag: fieldToFlag(f), saved: saved[f], now: cur[f], cadence: CADENCE_FIELDS.includes(f) }));
}

/** `--learning-rate 0.0001 → 0.01` lines of a change list. @category io */
export const describeChanges = (cs: readonly ConfigChange[]): string =>
  cs.map((c) => `${c.flag} ${JSON.stringify(c.saved) ?? '(unset)'} → ${JSON.stringify(c.now) ?? '(unset)'}`).join(', ');
