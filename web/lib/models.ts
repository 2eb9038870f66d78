/**
 * @file The page's models: the built-in tiny random VAE and SiT, and loaders for user checkpoints
 * (a VAE in the official AutoencoderKL or the diffusers layout; a SiT with official names and a
 * JSON configuration).
 */
import { dispose } from '../../src/core/scope.js';
import { key } from '../../src/core/rng.js';
import { readSafetensors, type SafeEntry } from '../../src/io/safetensors.js';
import { vaeConfigFromDiffusers, vaeStateDictFromDiffusers } from '../../src/io/statedict/diffusers-vae.js';
import { countValues } from '../../src/io/statedict/entries.js';
import { sitConfigFromKwargs, sitFromStateDict } from '../../src/io/statedict/sit.js';
import { vaeConfigFromStateDict, vaeFromStateDict, vaeStateDictSpec } from '../../src/io/statedict/vae.js';
import { customSitConfig, sitConfig, type SitConfig, type SitName } from '../../src/models/sit/config.js';
import { initSit, type SitWeights } from '../../src/models/sit/params.js';
import { initVae, vaeConfig, vaeDownsampling, type VaeConfig, type VaeParams } from '../../src/models/vae/index.js';
import { sitConfigFromStateDict, sitHintsFromRun } from '../../src/generate/models.js';
import { decodeRunConfig } from '../../src/train/config.js';

/** A JSON object as read from a config file. */
export type Json = Readonly<Record<string, unknown>>;

/** A VAE ready to run, with a one-line description for the page. */
export interface VaeModel {
  readonly params: VaeParams<never>;
  readonly cfg: VaeConfig;
  readonly label: string;
  /** The image size to use by default (the nominal resolution; 64 for the tiny VAE). */
  readonly imageSize: number;
}

/** A SiT ready to sample from, with a one-line description for the page. */
export interface SitModel {
  readonly weights: SitWeights;
  readonly cfg: SitConfig;
  readonly label: string;
}

/** The built-in VAE: 4 latent channels, 8× downsampling, one res block per level, no level attention. */
export const TINY_VAE: VaeConfig = vaeConfig({ embedDim: 4, ch: 32, chMult: [1, 1, 2, 2], numResBlocks: 1, attnResolutions: [], resolution: 64 });

/** The built-in SiT: patch 2 on the tiny VAE's 8×8×4 latents of 64-px images, 4 blocks of width 64, 10 classes. */
export const TINY_SIT: SitConfig = customSitConfig({
  depth: 4, hiddenSize: 64, numHeads: 4, patchSize: 2, inputSize: 8, inChannels: 4, encoderDepth: 2, zDims: [32], projectorDim: 128, numClasses: 10,
});

const millions = (n: number): string => `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}M params`;
const describeVae = (cfg: VaeConfig): string => `E=${cfg.embedDim}, f=${vaeDownsampling(cfg)}, ch=${cfg.ch}×[${cfg.chMult.join(',')}]`;

/** The built-in tiny VAE with PyTorch's default random initialisation (untrained). */
export function tinyVae(seed = 0): VaeModel {
  return { params: initVae(key(seed), TINY_VAE), cfg: TINY_VAE, label: `built-in tiny VAE, random init (${describeVae(TINY_VAE)})`, imageSize: 64 };
}

/** The built-in tiny SiT with the official initialisation (untrained: it predicts zero velocity). */
export function tinySit(seed = 0): SitModel {
  return { weights: initSit(key(seed), TINY_SIT), cfg: TINY_SIT, label: 'built-in tiny SiT, official init (untrained)' };
}

/** Entries whose key starts with `prefix`, with the prefix removed. */
function under(entries: ReadonlyMap<string, SafeEntry>, prefix: string): Map<string, SafeEntry> {
  const out = new Map<string, SafeEntry>();
  for (const [k, v] of entries) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

/** The prefix in front of the first key matching `re` (whose match starts the official name), or undefined. */
function prefixOf(keys: Iterable<string>, re: RegExp): string | undefined {
  for (const k of keys) {
    const m = re.exec(k);
    if (m !== null) return k.slice(0, m.index);
  }
  return undefined;
}

/**
 * Loads a VAE from safetensors bytes. The layout is detected from the names: official
 * AutoencoderKL (`encoder.down.0.block.0.conv1.weight`, …) or diffusers (`encoder.down_blocks.0.…`),
 * optionally under a prefix such as `vae.` or `module.`. The configuration comes from the diffusers
 * `config.json` when given, else it is inferred from the shapes. Keys that are not VAE parameters
 * (e.g. `loss.*` in LDM checkpoints) are ignored, as the official loader does.
 */
export function loadVae(bytes: Uint8Array, file: string, configJson?: Json): VaeModel {
  const entries = readSafetensors(bytes, file).entries;
  const officialPrefix = prefixOf(entries.keys(), /encoder\.down\.0\.block\.0\.conv1\.weight$/);
  const diffusersPrefix = prefixOf(entries.keys(), /encoder\.down_blocks\.0\.resnets\.0\.conv1\.weight$/);
  if (diffusersPrefix !== undefined && officialPrefix === undefined) {
    const sd = vaeStateDictFromDiffusers(under(entries, diffusersPrefix));
    const cfg = configJson !== undefined ? vaeConfigFromDiffusers(configJson) : vaeConfigFromStateDict(sd);
    const params = vaeFromStateDict(sd, cfg);
    return {
      params, cfg, imageSize: cfg.resolution,
      label: `${file}: diffusers AutoencoderKL${configJson === undefined ? ' (config inferred from shapes)' : ' + config.json'} (${describeVae(cfg)}, ${millions(countValues(sd))})`,
    };
  }
  if (officialPrefix === undefined)
    throw new Error(
      `${file}: no VAE weights found (expected official AutoencoderKL names like 'encoder.down.0.block.0.conv1.weight' or diffusers names like 'encoder.down_blocks.0.resnets.0.conv1.weight')`,
    );
  const cfg = vaeConfigFromStateDict(entries, { prefix: officialPrefix });
  const params = vaeFromStateDict(entries, cfg, { prefix: officialPrefix, strict: false });
  const spec = vaeStateDictSpec(cfg);
  const ignored = entries.size - spec.length;
  const n = spec.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
  return {
    params, cfg, imageSize: cfg.resolution,
    label: `${file}: official AutoencoderKL${officialPrefix === '' ? '' : ` under '${officialPrefix}'`} (${describeVae(cfg)}, ${millions(n)}${ignored > 0 ? `; ${ignored} other key${ignored === 1 ? '' : 's'} ignored` : ''})`,
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The SiT configuration described by a JSON file, given the state dict (for what the JSON leaves
 * open). Accepted: the constructor kwargs `SiT(**kwargs)` (`hidden_size`, `depth`, …), a golden
 * fixture json (`config.model.kwargs`), or a REPA-E `args.json` (`model: "SiT-XL/2"`, `num_classes`,
 * `encoder_depth`, …; latent size and channels are read from `pos_embed` and the patch embedding).
 */
export function sitConfigFromJson(json: Json, sd: ReadonlyMap<string, SafeEntry>): SitConfig {
  const fixture = json['config'];
  if (isRecord(fixture) && isRecord(fixture['model']) && isRecord(fixture['model']['kwargs'])) return sitConfigFromKwargs(fixture['model']['kwargs']);
  const model = json['model'];
  if (typeof model === 'string') {
    if (!/^SiT-(S|B|L|XL)\/(1|2|4|8)$/.test(model)) throw new Error(`config: model '${model}' is not an official SiT name (SiT-{S,B,L,XL}/{1,2,4,8})`);
    const patch = sd.get('x_embedder.proj.weight')?.shape, pos = sd.get('pos_embed')?.shape;
    if (patch === undefined || pos === undefined) throw new Error(`config: the checkpoint has no 'x_embedder.proj.weight' / 'pos_embed' to read the latent size from`);
    const p = patch[2] as number;
    const num = (k: string): number | undefined => (typeof json[k] === 'number' ? json[k] : undefined);
    const classDropoutProb = num('cfg_prob') ?? 0.1;
    const rows = sd.get('y_embedder.embedding_table.weight')?.shape[0];
    return sitConfig(model as SitName, {
      inputSize: Math.round(Math.sqrt(pos[1] as number)) * p,
      inChannels: patch[1] as number,
      numClasses: num('num_classes') ?? (rows === undefined ? 1000 : rows - (classDropoutProb > 0 ? 1 : 0)),
      encoderDepth: num('encoder_depth') ?? 8,
      qkNorm: json['qk_norm'] === true,
      bnMomentum: num('bn_momentum') ?? 0.1,
      classDropoutProb,
    });
  }
  if ('hidden_size' in json || 'depth' in json || 'input_size' in json) return sitConfigFromKwargs(json);
  throw new Error('config: expected SiT constructor kwargs (hidden_size, depth, …), a golden fixture json (config.model.kwargs) or a REPA-E args.json (model: "SiT-XL/2", …)');
}

/**
 * Loads a SiT from safetensors bytes with official names (optionally under a prefix such as `ema.`
 * or `module.`) and its JSON configuration. Projector widths are read from the checkpoint; a
 * checkpoint without projectors (they are not needed for sampling) gets placeholder ones.
 */
export function loadSit(bytes: Uint8Array, file: string, json: Json): SitModel {
  const entries = readSafetensors(bytes, file).entries;
  const prefix = prefixOf(entries.keys(), /x_embedder\.proj\.weight$/);
  if (prefix === undefined) throw new Error(`${file}: no SiT weights found (expected official names like 'x_embedder.proj.weight')`);
  const sd = under(entries, prefix);
  let cfg = sitConfigFromJson(json, sd);
  const zDims: number[] = [];
  while (sd.has(`projectors.${zDims.length}.4.weight`)) zDims.push(sd.get(`projectors.${zDims.length}.4.weight`)?.shape[0] as number);
  const projectorDim = sd.get('projectors.0.0.weight')?.shape[0];
  if (zDims.length > 0 && projectorDim !== undefined) cfg = { ...cfg, zDims, projectorDim };
  else {
    cfg = { ...cfg, zDims: [1], projectorDim: 1 };
    for (const [k, shape] of [['projectors.0.0.weight', [1, cfg.hiddenSize]], ['projectors.0.0.bias', [1]], ['projectors.0.2.weight', [1, 1]],
      ['projectors.0.2.bias', [1]], ['projectors.0.4.weight', [1, 1]], ['projectors.0.4.bias', [1]]] as const)
      sd.set(k, { dtype: 'F32', shape, data: new Float32Array(shape.reduce((a: number, b: number) => a * b, 1)) });
  }
  const weights = sitFromStateDict(sd, cfg, { ignoreUnexpected: true, source: file });
  const size = `${cfg.depth} blocks, D=${cfg.hiddenSize}, p=${cfg.patchSize}, ${cfg.inputSize}×${cfg.inputSize}×${cfg.inChannels} latents, ${cfg.numClasses} classes`;
  return { weights, cfg, label: `${file}${prefix === '' ? '' : ` under '${prefix}'`}: SiT (${size})` };
}

/** Frees a model's tensors. */
export const disposeModel = (m: VaeModel | SitModel | undefined): void => dispose(m === undefined ? undefined : 'params' in m ? m.params : m.weights);

/**
 * Loads a SiT saved by `repae train` / `npm start` (a checkpoint's `ema` or `sit` section, official
 * names) with its run configuration (`state.json`'s `state.config`): sizes come from the weights,
 * heads, classes, encoder depth and BatchNorm settings from the config, as `repae sample --run` does.
 */
export function loadRunSit(bytes: Uint8Array, file: string, runConfig: Json): SitModel {
  const entries = readSafetensors(bytes, file).entries;
  const run = decodeRunConfig(runConfig as Record<string, unknown>, `${file}: run config`);
  const cfg = sitConfigFromStateDict(entries, sitHintsFromRun(run), file);
  const weights = sitFromStateDict(entries, cfg, { source: file });
  const size = `${cfg.depth} blocks, D=${cfg.hiddenSize}, p=${cfg.patchSize}, ${cfg.inputSize}×${cfg.inputSize}×${cfg.inChannels} latents, ${cfg.numClasses} classes`;
  return { weights, cfg, label: `${file}: SiT (${size})` };
}
