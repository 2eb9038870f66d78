/**
 * @file Loading what sampling and evaluation need: a run's latest checkpoint (sections `sit`, `ema`,
 * `vae`, optional `disc`, and `state.json` with the {@link RunConfig}), or explicit state-dict files;
 * the SiT configuration inferred from a state dict; the latent statistics of the EMA BatchNorm
 * (spec §5.7, gotcha 4); VAEs in the official and the diffusers layout.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { add, div, mul, sub, tensor } from '../core/ops/index.js';
import { tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { CheckpointError, FLOAT_DTYPES, latestCheckpoint, loadCheckpoint, requireDtypes, type CheckpointInfo, type LoadedCheckpoint } from '../io/checkpoint.js';
import type { SafeEntry, SafeFile } from '../io/safetensors.js';
import type { StateDictLike } from '../io/statedict/entries.js';
import { vaeConfigFromDiffusers, vaeStateDictFromDiffusers } from '../io/statedict/diffusers-vae.js';
import { sitFromStateDict, stripWrapperPrefixes } from '../io/statedict/sit.js';
import { vaeConfigFromStateDict, vaeFromStateDict } from '../io/statedict/vae.js';
import { readSafetensorsFile } from '../io/tensors.js';
import { SIT_DEFAULTS, SIT_SIZES, validateSitConfig, type SitConfig, type SitSize } from '../models/sit/config.js';
import type { SitWeights } from '../models/sit/params.js';
import type { VaeConfig } from '../models/vae/config.js';
import type { VaeParams } from '../models/vae/params.js';
import type { BatchNormState } from '../nn/batch-norm.js';
import { decodeRunConfig, type RunConfig } from '../train/config.js';

/** Error while locating or loading models, naming the path, section or key at fault. @category io */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError';
}

// ------------------------------------------------------------------------------------------------
// Latent statistics
// ------------------------------------------------------------------------------------------------

/**
 * Per-channel latent statistics (official `latents_scale`, `latents_bias`, each `[C]` here,
 * `[1, C, 1, 1]` in the official files): normalised latents are `(z − bias)·scale`.
 * @category io
 */
export interface LatentStats {
  readonly scale: Float32Array;
  readonly bias: Float32Array;
}

/**
 * The latent statistics of a SiT latent BatchNorm (use the **EMA** model's): `scale =
 * running_var^(−1/2)` (no eps), `bias = running_mean`, rounded to float32 as PyTorch computes them.
 * Official: `generate.py` / `save_vae_weights.py` (spec §5.7, gotcha 4).
 *
 * @example
 * const stats = await latentStatsFromBn(ema.bn)
 * @category io
 */
export async function latentStatsFromBn(bn: BatchNormState): Promise<LatentStats> {
  const v = await bn.runningVar.data(), m = await bn.runningMean.data();
  return { scale: Float32Array.from(v, (x) => Math.fround(1 / Math.sqrt(x))), bias: Float32Array.from(m) };
}

/** `[C]` or `[1, C, 1, 1]` values of a stats entry, checked. */
function statsEntry(f: SafeFile, key: string, file: string): Float32Array {
  const e = f.entries.get(key);
  if (e === undefined) throw new ModelLoadError(`${file}: no key '${key}' (a latents-stats file holds 'latents_scale' and 'latents_bias', [1, C, 1, 1])`);
  const c = e.data.length;
  const ok = (e.shape.length === 1 && e.shape[0] === c) || (e.shape.length === 4 && e.shape[1] === c);
  if (!ok) throw new ModelLoadError(`${file}: key '${key}' has shape [${e.shape.join(', ')}], expected [1, C, 1, 1] or [C]`);
  return Float32Array.from(e.data);
}

/**
 * Reads a latents-stats file (the safetensors form of the official `<name>-latents-stats.pt`:
 * `latents_scale`, `latents_bias`, `[1, C, 1, 1]`).
 * @category io
 */
export function readLatentStats(file: string): LatentStats {
  const f = readSafetensorsFile(file);
  requireDtypes(f, file, () => FLOAT_DTYPES);
  const scale = statsEntry(f, 'latents_scale', file), bias = statsEntry(f, 'latents_bias', file);
  if (scale.length !== bias.length) throw new ModelLoadError(`${file}: latents_scale has ${scale.length} channels, latents_bias ${bias.length}`);
  return { scale, bias };
}

/**
 * Sampler latents → VAE latents: `z / latents_scale + latents_bias` (`z: [N, h, w, C]`).
 * Official: `vae.decode(samples / latents_scale + latents_bias)` in `generate.py`.
 * @category transforms
 */
export const denormalizeLatents = <G extends string>(z: T<G>, s: LatentStats): T<G> =>
  tidy(() => add(div(z, tensor(s.scale, [s.scale.length])), tensor(s.bias, [s.bias.length])));

/** VAE latents → normalised latents: `(z − latents_bias)·latents_scale` (the BatchNorm in eval mode, without its eps). @category transforms */
export const normalizeLatents = <G extends string>(z: T<G>, s: LatentStats): T<G> =>
  tidy(() => mul(sub(z, tensor(s.bias, [s.bias.length])), tensor(s.scale, [s.scale.length])));

// ------------------------------------------------------------------------------------------------
// Configurations
// ------------------------------------------------------------------------------------------------

/** What a SiT state dict cannot tell: heads (without qk-norm), alignment depth, classes, label dropout, BN momentum. @category io */
export interface SitConfigHints {
  readonly numHeads: number;
  readonly encoderDepth: number;
  readonly numClasses: number;
  readonly classDropoutProb: number;
  readonly bnMomentum: number;
}

/**
 * Infers a {@link SitConfig} from an official SiT state dict's shapes (width, tokens, patch, latent
 * channels, depth, MLP ratio, projectors, qk-norm, label rows), with the rest from `hints`. The
 * label table's row count must agree with `numClasses` and `classDropoutProb` (`+1` row when > 0).
 * @category io
 */
export function sitConfigFromStateDict(sd: StateDictLike, hints: SitConfigHints, source = 'SiT state dict'): SitConfig {
  const byKey = new Map<string, readonly number[]>();
  for (const [k, e] of sd) byKey.set(stripWrapperPrefixes(k), e.shape);
  const shape = (k: string): readonly number[] => {
    const s = byKey.get(k);
    if (s === undefined) throw new ModelLoadError(`${source}: missing key '${k}' (needed to infer the SiT configuration)`);
    return s;
  };
  const [, tokens, d] = shape('pos_embed') as [number, number, number];
  const [, c, p] = shape('x_embedder.proj.weight') as [number, number, number, number];
  const grid = Math.round(Math.sqrt(tokens));
  let depth = 0;
  while (byKey.has(`blocks.${depth}.attn.qkv.weight`)) depth++;
  const zDims: number[] = [];
  while (byKey.has(`projectors.${zDims.length}.4.weight`)) zDims.push(shape(`projectors.${zDims.length}.4.weight`)[0] as number);
  const projectorDim = zDims.length > 0 ? (shape('projectors.0.0.weight')[0] as number) : SIT_DEFAULTS.projectorDim;
  const qkNorm = byKey.has('blocks.0.attn.q_norm.weight');
  const numHeads = qkNorm ? d / (shape('blocks.0.attn.q_norm.weight')[0] as number) : hints.numHeads;
  const rows = shape('y_embedder.embedding_table.weight')[0] as number;
  const wantRows = hints.numClasses + (hints.classDropoutProb > 0 ? 1 : 0);
  if (rows !== wantRows)
    throw new ModelLoadError(
      `${source}: the label table has ${rows} rows, but numClasses ${hints.numClasses} with cfgProb ${hints.classDropoutProb} needs ${wantRows}`,
    );
  try {
    return validateSitConfig({
      inputSize: grid * p,
      patchSize: p,
      inChannels: c,
      hiddenSize: d,
      depth,
      numHeads,
      mlpRatio: depth > 0 ? (shape('blocks.0.mlp.fc1.weight')[0] as number) / d : SIT_DEFAULTS.mlpRatio,
      encoderDepth: hints.encoderDepth,
      classDropoutProb: hints.classDropoutProb,
      numClasses: hints.numClasses,
      zDims: zDims.length > 0 ? zDims : [1],
      projectorDim,
      bnMomentum: hints.bnMomentum,
      qkNorm,
    });
  } catch (e) {
    throw new ModelLoadError(`${source}: ${(e as Error).message}`);
  }
}

/** The {@link SitConfigHints} of a run: heads from `--model` (`SiT-B/2` → 12) or `--sit-heads` for `custom`. @category io */
export function sitHintsFromRun(run: RunConfig): SitConfigHints {
  const m = /^SiT-(S|B|L|XL)\/(1|2|4|8)$/.exec(run.model);
  if (m === null && run.model !== 'custom') throw new ModelLoadError(`run config: model '${run.model}' is neither 'custom' nor SiT-{S,B,L,XL}/{1,2,4,8}`);
  return {
    numHeads: m === null ? run.sitHeads : SIT_SIZES[m[1] as SitSize].numHeads,
    encoderDepth: run.encoderDepth,
    numClasses: run.numClasses,
    classDropoutProb: run.cfgProb,
    bnMomentum: run.bnMomentum,
  };
}

/** A minimal RunConfig-like JSON for explicit files: either a RunConfig, or `state.json` whose `state.config`/`config` is one. */
function runConfigFromJson(file: string): RunConfig {
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ModelLoadError(`${file}: cannot read the run config (${(e as Error).message})`);
  }
  const obj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  let c: unknown = j;
  if (obj(j) && obj(j['state']) && obj(j['state']['config'])) c = j['state']['config'];
  else if (obj(j) && obj(j['config'])) c = j['config'];
  if (!obj(c)) throw new ModelLoadError(`${file}: not a run config (a JSON object of RunConfig fields, or a state.json with a 'config' field)`);
  return decodeRunConfig(c, file);
}

// ------------------------------------------------------------------------------------------------
// VAE files
// ------------------------------------------------------------------------------------------------

/** A loaded VAE: configuration, parameters, and the latent statistics when its bundle carries them. @category io */
export interface LoadedVae {
  readonly cfg: VaeConfig;
  readonly params: VaeParams<never>;
  readonly stats?: LatentStats;
  readonly source: string;
}

const isDiffusersKeys = (sd: StateDictLike): boolean => [...sd.keys()].some((k) => k.includes('.down_blocks.') || k.includes('.mid_block.'));

/**
 * Loads a VAE from an official state dict (`.safetensors`), a diffusers state dict (keys
 * `down_blocks…`, converted), or a diffusers directory (`config.json` +
 * `diffusion_pytorch_model.safetensors`, plus `latents_stats.safetensors` or the config's
 * `latents_mean`/`latents_std` when present). A sibling `<name>-latents-stats.safetensors` is read
 * as the bundle's statistics.
 *
 * @example
 * const { params, cfg, stats } = loadVae('exps/e2e-vae/diffusers')
 * @category io
 */
export function loadVae(path: string): LoadedVae {
  if (!existsSync(path)) throw new ModelLoadError(`${path}: no such VAE file or directory`);
  if (statSync(path).isDirectory()) return loadDiffusersVae(path);
  const f = readSafetensorsFile(path);
  requireDtypes(f, path);
  const official = isDiffusersKeys(f.entries) ? vaeStateDictFromDiffusers(f.entries) : f.entries;
  const cfg = vaeConfigFromStateDict(official);
  const params = vaeFromStateDict(official, cfg);
  const statsFile = path.replace(/\.safetensors$/, '-latents-stats.safetensors');
  const stats = statsFile !== path && existsSync(statsFile) ? readLatentStats(statsFile) : undefined;
  return { cfg, params, source: path, ...(stats === undefined ? {} : { stats }) };
}

/**
 * Loads a diffusers-layout AutoencoderKL directory: `config.json` (→ {@link VaeConfig}) and
 * `diffusion_pytorch_model.safetensors` (renamed to the official keys); latent statistics from
 * `latents_stats.safetensors`, else from the config's `latents_mean` / `latents_std`
 * (`scale = 1/std`), else none.
 * @category io
 */
export function loadDiffusersVae(dir: string): LoadedVae {
  const cfgPath = join(dir, 'config.json'), wPath = join(dir, 'diffusion_pytorch_model.safetensors');
  for (const p of [cfgPath, wPath]) if (!existsSync(p)) throw new ModelLoadError(`${dir}: not a diffusers VAE directory (missing ${basename(p)})`);
  const json = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  let cfg: VaeConfig;
  try {
    cfg = vaeConfigFromDiffusers(json);
  } catch (e) {
    throw new ModelLoadError(`${cfgPath}: ${(e as Error).message}`);
  }
  const wFile = readSafetensorsFile(wPath);
  requireDtypes(wFile, wPath);
  const official = vaeStateDictFromDiffusers(wFile.entries);
  const params = vaeFromStateDict(official, cfg);
  let stats: LatentStats | undefined;
  const statsPath = join(dir, 'latents_stats.safetensors');
  if (existsSync(statsPath)) stats = readLatentStats(statsPath);
  else if (Array.isArray(json['latents_mean']) && Array.isArray(json['latents_std']))
    stats = { bias: Float32Array.from(json['latents_mean'] as number[]), scale: Float32Array.from(json['latents_std'] as number[], (s) => 1 / s) };
  return { cfg, params, source: dir, ...(stats === undefined ? {} : { stats }) };
}

// ------------------------------------------------------------------------------------------------
// Runs
// ------------------------------------------------------------------------------------------------

/** Which SiT weights to sample with: the EMA (default, as `generate.py`) or the raw model. @category io */
export type SitWeightsChoice = 'ema' | 'model';

/** A run's models, ready for sampling or evaluation. @category io */
export interface LoadedModels {
  /** Where they came from (checkpoint directory or file names), for logs and manifests. */
  readonly source: string;
  /** Training step of the checkpoint (0 for explicit files). */
  readonly step: number;
  readonly run: RunConfig;
  readonly sitCfg: SitConfig;
  /** The chosen SiT weights (EMA by default), with its latent BatchNorm buffers. */
  readonly sit: SitWeights;
  readonly vaeCfg: VaeConfig;
  readonly vae: VaeParams<never>;
  /** Decoding statistics: from `--latents-stats` if given, else the EMA BatchNorm (spec gotcha 4). */
  readonly stats: LatentStats;
}

/**
 * Resolves `path` to a complete checkpoint: a checkpoint directory (`…/checkpoints/<step:07d>`) as
 * is, or a run directory's newest complete checkpoint. Errors name the path and list what was
 * skipped (partial or damaged checkpoints).
 * @category io
 */
export function resolveCheckpoint(path: string): CheckpointInfo | string {
  if (!existsSync(path)) throw new ModelLoadError(`${path}: no such run or checkpoint directory`);
  if (/^\d{7,}$/.test(basename(path.replace(/[/\\]+$/, ''))) && existsSync(join(path, 'state.json'))) return path;
  const { latest, skipped } = latestCheckpoint(path);
  if (latest === undefined) {
    const why = skipped.length > 0 ? ` (skipped: ${skipped.map((s) => `${s.path}: ${s.reason}`).join('; ')})` : '';
    const ckDir = join(path, 'checkpoints');
    const has = existsSync(ckDir) ? readdirSync(ckDir).length : 0;
    throw new ModelLoadError(`${path}: no complete checkpoint in ${ckDir}${existsSync(ckDir) ? ` (${has} entries)` : ' (missing)'}${why}`);
  }
  return latest;
}

function section(ck: LoadedCheckpoint, names: readonly string[]): SafeFile | undefined {
  for (const n of names) if (ck.sections[n] !== undefined) return ck.sections[n];
  return undefined;
}

/** Loads an official SiT state dict with a config inferred from it and a run config. */
function loadSit(entries: ReadonlyMap<string, SafeEntry>, run: RunConfig, source: string): { cfg: SitConfig; w: SitWeights } {
  const cfg = sitConfigFromStateDict(entries, sitHintsFromRun(run), source);
  return { cfg, w: sitFromStateDict(entries, cfg, { source }) };
}

/** Options of {@link loadRunModels}. @category io */
export interface LoadRunOptions {
  /** SiT weights to use (default `ema`). */
  readonly weights?: SitWeightsChoice;
  /** A VAE to use instead of the checkpoint's `vae` section (needed for runs that did not train the VAE). */
  readonly vae?: string;
  /** A latents-stats file to decode with instead of the EMA BatchNorm statistics. */
  readonly latentsStats?: string;
}

/**
 * Loads a run's models from its newest complete checkpoint (or the given checkpoint directory):
 * `state.json`'s `config` (a {@link RunConfig}), the EMA (or raw) SiT from section `ema` (`sit`),
 * the VAE from section `vae` (or `opts.vae`), and the latent statistics of the EMA BatchNorm.
 * All sections hold official state-dict names.
 *
 * @example
 * const m = loadRunModels('exps/repae-tiny')
 * @category io
 */
export async function loadRunModels(path: string, opts: LoadRunOptions = {}): Promise<LoadedModels> {
  const ckInfo = resolveCheckpoint(path);
  const ckPath = typeof ckInfo === 'string' ? ckInfo : ckInfo.path;
  const want = opts.weights === 'model' ? 'sit' : 'ema';
  const sections = typeof ckInfo === 'string' ? undefined : ckInfo.sections;
  const needed = [want, ...(want === 'ema' ? [] : ['ema']), ...(opts.vae === undefined ? ['vae'] : [])];
  if (sections !== undefined)
    for (const s of needed)
      if (!sections.includes(s))
        throw new ModelLoadError(
          `${ckPath}: checkpoint has no section '${s}' (has: ${sections.join(', ') || 'none'})${s === 'vae' ? '; pass --vae FILE for runs that did not train the VAE' : ''}`,
        );
  let ck: LoadedCheckpoint;
  try {
    ck = loadCheckpoint(ckInfo, { sections: needed });
    for (const s of needed) requireDtypes(ck.sections[s] as SafeFile, `${ckPath}/${s}.safetensors`);
  } catch (e) {
    if (e instanceof CheckpointError) throw new ModelLoadError(e.message);
    throw e;
  }
  const cfgJson = ck.state['config'];
  if (typeof cfgJson !== 'object' || cfgJson === null || Array.isArray(cfgJson))
    throw new ModelLoadError(`${join(ckPath, 'state.json')}: no 'config' object (the run configuration) in the checkpoint state`);
  const run = decodeRunConfig(cfgJson as Record<string, unknown>, `${join(ckPath, 'state.json')} config`);
  const chosen = section(ck, [want]) as SafeFile;
  const { cfg: sitCfg, w: sit } = loadSit(chosen.entries, run, `${ckPath}/${want}.safetensors`);
  let emaBn = sit.bn;
  if (want !== 'ema') emaBn = loadSit((section(ck, ['ema']) as SafeFile).entries, run, `${ckPath}/ema.safetensors`).w.bn;
  let vaeCfg: VaeConfig, vae: VaeParams<never>, bundleStats: LatentStats | undefined;
  if (opts.vae !== undefined) {
    const v = loadVae(opts.vae);
    ({ cfg: vaeCfg, params: vae } = v);
    bundleStats = v.stats;
  } else {
    const sd = (section(ck, ['vae']) as SafeFile).entries;
    vaeCfg = vaeConfigFromStateDict(sd);
    vae = vaeFromStateDict(sd, vaeCfg);
  }
  checkPairing(sitCfg, vaeCfg, ckPath);
  const stats = opts.latentsStats !== undefined ? readLatentStats(opts.latentsStats) : opts.vae !== undefined && run.mode !== 'repae-e' && bundleStats !== undefined ? bundleStats : await latentStatsFromBn(emaBn);
  return { source: ckPath, step: ck.step, run, sitCfg, sit, vaeCfg, vae, stats };
}

/** Explicit model files (`--sit`, `--vae`, `--config`, optional `--latents-stats`). @category io */
export interface ModelFiles {
  readonly sit: string;
  readonly vae: string;
  readonly config: string;
  readonly latentsStats?: string;
}

/**
 * Loads models from explicit files: an official SiT state dict (its `bn.*` buffers give the latent
 * statistics unless `latentsStats` or the VAE bundle provides them), a VAE (see {@link loadVae}) and
 * a run config JSON (a RunConfig, or a checkpoint's `state.json`).
 * @category io
 */
export async function loadModelFiles(files: ModelFiles): Promise<LoadedModels> {
  const run = runConfigFromJson(files.config);
  if (!existsSync(files.sit)) throw new ModelLoadError(`${files.sit}: no such SiT file`);
  const sitFile = readSafetensorsFile(files.sit);
  requireDtypes(sitFile, files.sit);
  const { cfg: sitCfg, w: sit } = loadSit(sitFile.entries, run, files.sit);
  const v = loadVae(files.vae);
  checkPairing(sitCfg, v.cfg, files.sit);
  const stats = files.latentsStats !== undefined ? readLatentStats(files.latentsStats) : await latentStatsFromBn(sit.bn);
  return { source: `${files.sit} + ${files.vae}`, step: 0, run, sitCfg, sit, vaeCfg: v.cfg, vae: v.params, stats };
}

function checkPairing(sitCfg: SitConfig, vaeCfg: VaeConfig, where: string): void {
  if (sitCfg.inChannels !== vaeCfg.embedDim)
    throw new ModelLoadError(`${where}: the SiT takes ${sitCfg.inChannels} latent channels but the VAE produces ${vaeCfg.embedDim}`);
}
