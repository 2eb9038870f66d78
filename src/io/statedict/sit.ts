/**
 * @file The official SiT checkpoint names (spec §2.9) ↔ repae's records `{ sit, proj, bn }`:
 * a bidirectional key map with layout conversion, shape-only parameter counts, and the parser of
 * the official constructor keyword arguments.
 */
import { read, tensor } from '../../core/ops/create.js';
import type { T } from '../../core/tensor.js';
import { SIT_FREQ_DIM, sitLabelRows, sitMlpHidden, sitTokens, validateSitConfig, type SitConfig } from '../../models/sit/config.js';
import type { SitWeights } from '../../models/sit/params.js';
import type { SafeDtype, SafeWriteEntry } from '../safetensors.js';
import { StateDictError } from './entries.js';

/** A state-dict entry as read from a checkpoint: shape (PyTorch layout) and values. @category io */
export interface StateDictEntry {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
  readonly dtype?: SafeDtype;
}

/** What an official key holds and how it maps onto repae's records. @category io */
export interface SitKeySpec {
  /** Official `state_dict` key. */
  readonly key: string;
  /** Official (PyTorch) shape. */
  readonly shape: readonly number[];
  /** Path of the leaf in `{ sit, proj, bn }`. */
  readonly path: readonly (string | number)[];
  /**
   * `'same'`: identical layout; `'patch'`: conv weight `[D, C, p, p]` ↔ patch-linear `[D, p·p·C]`
   * (`(p_row, p_col, c)` columns); `'count'`: the int64 `num_batches_tracked` scalar (a number).
   */
  readonly layout: 'same' | 'patch' | 'count';
  /** A buffer (BatchNorm statistics), not a parameter. */
  readonly buffer: boolean;
}

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;
const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/**
 * Every official key of a SiT with config `cfg`, in the official `state_dict()` order, with its
 * PyTorch shape and where it lives in repae's records. Shape-only: allocates no tensor.
 * @category io
 */
export function sitKeySpecs(cfg: SitConfig): SitKeySpec[] {
  validateSitConfig(cfg);
  const d = cfg.hiddenSize, p = cfg.patchSize, c = cfg.inChannels, hd = d / cfg.numHeads, mh = sitMlpHidden(cfg);
  const out: SitKeySpec[] = [];
  const add = (key: string, shape: readonly number[], path: readonly (string | number)[], layout: SitKeySpec['layout'] = 'same', buffer = false): void => {
    out.push({ key, shape, path, layout, buffer });
  };
  const lin = (key: string, outD: number, inD: number, path: readonly (string | number)[]): void => {
    add(`${key}.weight`, [outD, inD], [...path, 'w']);
    add(`${key}.bias`, [outD], [...path, 'b']);
  };
  add('pos_embed', [1, sitTokens(cfg), d], ['sit', 'posEmbed']);
  add('x_embedder.proj.weight', [d, c, p, p], ['sit', 'xEmbedder', 'w'], 'patch');
  add('x_embedder.proj.bias', [d], ['sit', 'xEmbedder', 'b']);
  lin('t_embedder.mlp.0', d, SIT_FREQ_DIM, ['sit', 'tEmbedder', 'fc1']);
  lin('t_embedder.mlp.2', d, d, ['sit', 'tEmbedder', 'fc2']);
  add('y_embedder.embedding_table.weight', [sitLabelRows(cfg), d], ['sit', 'yEmbedder', 'table']);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`, bp = ['sit', 'blocks', i] as const;
    lin(`${b}.attn.qkv`, 3 * d, d, [...bp, 'attn', 'qkv']);
    if (cfg.qkNorm) {
      add(`${b}.attn.q_norm.weight`, [hd], [...bp, 'attn', 'qNorm', 'w']);
      add(`${b}.attn.q_norm.bias`, [hd], [...bp, 'attn', 'qNorm', 'b']);
      add(`${b}.attn.k_norm.weight`, [hd], [...bp, 'attn', 'kNorm', 'w']);
      add(`${b}.attn.k_norm.bias`, [hd], [...bp, 'attn', 'kNorm', 'b']);
    }
    lin(`${b}.attn.proj`, d, d, [...bp, 'attn', 'proj']);
    lin(`${b}.mlp.fc1`, mh, d, [...bp, 'mlp', 'fc1']);
    lin(`${b}.mlp.fc2`, d, mh, [...bp, 'mlp', 'fc2']);
    lin(`${b}.adaLN_modulation.1`, 6 * d, d, [...bp, 'adaLN']);
  }
  cfg.zDims.forEach((z, k) => {
    lin(`projectors.${k}.0`, cfg.projectorDim, d, ['proj', k, 'fc1']);
    lin(`projectors.${k}.2`, cfg.projectorDim, cfg.projectorDim, ['proj', k, 'fc2']);
    lin(`projectors.${k}.4`, z, cfg.projectorDim, ['proj', k, 'fc3']);
  });
  lin('final_layer.linear', p * p * c, d, ['sit', 'finalLayer', 'linear']);
  lin('final_layer.adaLN_modulation.1', 2 * d, d, ['sit', 'finalLayer', 'adaLN']);
  add('bn.running_mean', [c], ['bn', 'runningMean'], 'same', true);
  add('bn.running_var', [c], ['bn', 'runningVar'], 'same', true);
  add('bn.num_batches_tracked', [], ['bn', 'numBatchesTracked'], 'count', true);
  return out;
}

/** The official key → PyTorch shape table of a config (shape-only; 141 entries for SiT-B/2). @category io */
export const sitStateDictShapes = (cfg: SitConfig): Map<string, readonly number[]> => new Map(sitKeySpecs(cfg).map((s) => [s.key, s.shape]));

/** Parameter element counts of a SiT (shape-only). @category io */
export interface SitParamCount {
  /** All parameters incl. `pos_embed` and the projectors, excluding BN buffers (spec §2.1 "total params"). */
  readonly total: number;
  /** Of which the REPA projectors. */
  readonly proj: number;
  /** Of which `pos_embed`. */
  readonly posEmbed: number;
  /** State-dict entries, BN buffers included. */
  readonly entries: number;
}

/**
 * Counts a config's parameters without allocating: SiT-B/2 → 137,845,008 (141 entries), SiT-L/2 →
 * 465,955,600, SiT-XL/2 → 683,242,512, SiT-XL/1 on 16×16×32 latents → 683,279,392.
 * @category io
 */
export function sitParamCount(cfg: SitConfig): SitParamCount {
  const specs = sitKeySpecs(cfg);
  const params = specs.filter((s) => !s.buffer);
  const sumOf = (xs: readonly SitKeySpec[]): number => xs.reduce((a, s) => a + prod(s.shape), 0);
  return {
    total: sumOf(params),
    proj: sumOf(params.filter((s) => s.path[0] === 'proj')),
    posEmbed: sumOf(params.filter((s) => s.key === 'pos_embed')),
    entries: specs.length,
  };
}

/** Strips wrapper prefixes (`module.` from DDP, `_orig_mod.` from `torch.compile`), repeatedly. @category io */
export function stripWrapperPrefixes(key: string): string {
  let k = key;
  for (;;) {
    if (k.startsWith('module.')) k = k.slice(7);
    else if (k.startsWith('_orig_mod.')) k = k.slice(10);
    else return k;
  }
}

/** `[D, C, p, p]` (conv) → `[D, p·p·C]` (patch linear, `(p_row, p_col, c)` columns). */
function patchFromConv(src: ArrayLike<number>, d: number, c: number, p: number): Float32Array {
  const out = new Float32Array(d * c * p * p);
  for (let o = 0; o < d; o++)
    for (let ch = 0; ch < c; ch++)
      for (let a = 0; a < p; a++)
        for (let b = 0; b < p; b++) out[((o * p + a) * p + b) * c + ch] = src[((o * c + ch) * p + a) * p + b] as number;
  return out;
}

/** `[D, p·p·C]` → `[D, C, p, p]`. */
function convFromPatch(src: ArrayLike<number>, d: number, c: number, p: number): Float32Array {
  const out = new Float32Array(d * c * p * p);
  for (let o = 0; o < d; o++)
    for (let ch = 0; ch < c; ch++)
      for (let a = 0; a < p; a++)
        for (let b = 0; b < p; b++) out[((o * c + ch) * p + a) * p + b] = src[((o * p + a) * p + b) * c + ch] as number;
  return out;
}

function setIn(root: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i] as string | number;
    if (node[k] === undefined) node[k] = typeof path[i + 1] === 'number' ? [] : {};
    node = node[k] as Record<string | number, unknown>;
  }
  node[path[path.length - 1] as string | number] = value;
}

function getIn(root: unknown, path: readonly (string | number)[]): unknown {
  let node = root;
  for (const k of path) {
    if (node === null || node === undefined) return undefined;
    node = (node as Record<string | number, unknown>)[k];
  }
  return node;
}

/** Options of {@link sitFromStateDict}. @category io */
export interface SitFromStateDictOptions {
  /** Ignore keys that are not part of the model (default false: they are an error). */
  readonly ignoreUnexpected?: boolean;
  /** Name of the source in error messages (a file name). */
  readonly source?: string;
}

/**
 * Builds `{ sit, proj, bn }` from an official SiT state dict (keys as `state_dict()` writes them;
 * `module.` / `_orig_mod.` prefixes are stripped). Converts the patch-embedding conv weight
 * `[D, C, p, p]` to the patch-linear layout. Throws {@link StateDictError} naming every missing key
 * with its expected shape, every shape mismatch with both shapes, and unexpected keys (unless
 * `ignoreUnexpected`); its `key`/`expected`/`actual` fields describe the first problem. All tensors are new constants.
 *
 * @example
 * const { sit, proj, bn } = sitFromStateDict(readSafetensors(bytes).entries, sitConfig('SiT-XL/2'))
 * @category io
 */
export function sitFromStateDict(
  sd: ReadonlyMap<string, StateDictEntry>,
  cfg: SitConfig,
  opts: SitFromStateDictOptions = {},
): SitWeights {
  const src = opts.source === undefined ? 'state dict' : `state dict '${opts.source}'`;
  const specs = sitKeySpecs(cfg);
  const byKey = new Map<string, StateDictEntry>();
  for (const [k, v] of sd) {
    const s = stripWrapperPrefixes(k);
    if (byKey.has(s)) throw new StateDictError(`${src}: key '${k}' duplicates '${s}' after stripping module./_orig_mod. prefixes`, s);
    byKey.set(s, v);
  }
  const problems: { msg: string; key: string; expected?: readonly number[]; actual?: readonly number[] }[] = [];
  for (const s of specs) {
    const e = byKey.get(s.key);
    if (e === undefined) problems.push({ msg: `missing key '${s.key}' (expected shape ${fmt(s.shape)})`, key: s.key, expected: s.shape });
    else if (fmt(e.shape) !== fmt(s.shape))
      problems.push({ msg: `key '${s.key}' has shape ${fmt(e.shape)}, expected ${fmt(s.shape)}`, key: s.key, expected: s.shape, actual: e.shape });
    else if (e.data.length !== prod(s.shape))
      problems.push({ msg: `key '${s.key}' has ${e.data.length} values for shape ${fmt(s.shape)}`, key: s.key, expected: s.shape, actual: e.shape });
  }
  if (opts.ignoreUnexpected !== true) {
    const known = new Set(specs.map((s) => s.key));
    for (const [k, e] of byKey) if (!known.has(k)) problems.push({ msg: `unexpected key '${k}' (shape ${fmt(e.shape)})`, key: k, actual: e.shape });
  }
  const first = problems[0];
  if (first !== undefined) {
    const head = problems.slice(0, 8).map((p) => p.msg).join('; ');
    throw new StateDictError(
      `${src} does not match the SiT config: ${head}${problems.length > 8 ? `; … (${problems.length - 8} more)` : ''}`,
      first.key,
      first.expected,
      first.actual,
    );
  }
  const root: Record<string, unknown> = { proj: [] };
  const d = cfg.hiddenSize, p = cfg.patchSize, c = cfg.inChannels;
  for (const s of specs) {
    const e = byKey.get(s.key) as StateDictEntry;
    if (s.layout === 'count') setIn(root, s.path, Number(e.data[0]));
    else if (s.layout === 'patch') setIn(root, s.path, tensor(patchFromConv(e.data, d, c, p), [d, p * p * c]));
    else setIn(root, s.path, tensor(e.data instanceof Float32Array ? e.data : Float32Array.from(e.data), s.shape));
  }
  return root as unknown as SitWeights;
}

/**
 * Writes `{ sit, proj, bn }` as an official SiT state dict (official order; float32 as `F32`,
 * `num_batches_tracked` as `I64`; the patch linear back to the conv layout `[D, C, p, p]`), ready
 * for `writeSafetensors`. Reads every tensor back to the host (async on every backend); creates no
 * tensors.
 *
 * @example
 * const bytes = writeSafetensors(await sitToStateDict({ sit, proj, bn }, cfg))
 * @category io
 */
export async function sitToStateDict(w: SitWeights, cfg: SitConfig): Promise<Map<string, SafeWriteEntry>> {
  const out = new Map<string, SafeWriteEntry>();
  const d = cfg.hiddenSize, p = cfg.patchSize, c = cfg.inChannels;
  for (const s of sitKeySpecs(cfg)) {
    const v = getIn(w, s.path);
    if (s.layout === 'count') {
      if (typeof v !== 'number') throw new StateDictError(`sitToStateDict: '${s.key}' (${s.path.join('.')}) is not a number`, s.key);
      out.set(s.key, { dtype: 'I64', shape: [], data: [v] });
      continue;
    }
    if (v === undefined || v === null)
      throw new StateDictError(`sitToStateDict: no tensor at ${s.path.join('.')} for key '${s.key}' (expected ${fmt(s.shape)})`, s.key, s.shape);
    const t = v as T<never>;
    const ours = s.layout === 'patch' ? [d, p * p * c] : s.shape;
    if (fmt(t.shape) !== fmt(ours))
      throw new StateDictError(`sitToStateDict: ${s.path.join('.')} has shape ${fmt(t.shape)}, expected ${fmt(ours)} for key '${s.key}'`, s.key, ours, t.shape);
    const data = await read(t);
    out.set(s.key, { dtype: 'F32', shape: s.shape, data: s.layout === 'patch' ? convFromPatch(data, d, c, p) : data });
  }
  return out;
}

/**
 * A {@link SitConfig} from the official constructor keyword arguments (`SiT(**kwargs)`, e.g. a
 * golden fixture's `config.model.kwargs`), with the official constructor defaults for absent
 * ones. `decoder_hidden_size` must equal `hidden_size` (the only working setting; see
 * {@link SitConfig}); `fused_attn` and `path_type` are accepted and ignored (they do not change the
 * function).
 *
 * @example
 * const cfg = sitConfigFromKwargs(fixture.json.config.model.kwargs)
 * @category io
 */
export function sitConfigFromKwargs(kwargs: Readonly<Record<string, unknown>>): SitConfig {
  const num = (k: string, dflt: number): number => {
    const v = kwargs[k];
    if (v === undefined) return dflt;
    if (typeof v !== 'number') throw new RangeError(`SiT kwargs: '${k}' must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const hidden = num('hidden_size', 1152);
  const dec = num('decoder_hidden_size', 768);
  if (dec !== hidden)
    throw new RangeError(`SiT kwargs: decoder_hidden_size ${dec} ≠ hidden_size ${hidden} (the official final layer only works when they are equal)`);
  const zd = kwargs['z_dims'] ?? [768];
  if (!Array.isArray(zd) || !zd.every((z) => typeof z === 'number')) throw new RangeError(`SiT kwargs: 'z_dims' must be a list of numbers, got ${JSON.stringify(zd)}`);
  const known = new Set(['input_size', 'patch_size', 'in_channels', 'hidden_size', 'decoder_hidden_size', 'encoder_depth', 'depth', 'num_heads',
    'mlp_ratio', 'class_dropout_prob', 'num_classes', 'z_dims', 'projector_dim', 'bn_momentum', 'qk_norm', 'fused_attn', 'path_type', 'use_cfg']);
  for (const k of Object.keys(kwargs)) if (!known.has(k)) throw new RangeError(`SiT kwargs: unknown argument '${k}'`);
  return validateSitConfig({
    inputSize: num('input_size', 32),
    patchSize: num('patch_size', 2),
    inChannels: num('in_channels', 4),
    hiddenSize: hidden,
    depth: num('depth', 28),
    numHeads: num('num_heads', 16),
    mlpRatio: num('mlp_ratio', 4),
    encoderDepth: num('encoder_depth', 8),
    classDropoutProb: num('class_dropout_prob', 0.1),
    numClasses: num('num_classes', 1000),
    zDims: zd as number[],
    projectorDim: num('projector_dim', 2048),
    bnMomentum: num('bn_momentum', 0.1),
    qkNorm: kwargs['qk_norm'] === true,
  });
}
