/**
 * @file Official AutoencoderKL state-dict names (`models/autoencoder.py`, REPAE_SPEC §3.5) ↔ repae
 * `VaeParams`: conv kernels are transposed `[out, in, kh, kw]` ↔ `[kh, kw, in, out]`.
 */
import type { T } from '../../core/tensor.js';
import { decoderLevelHasAttn, encoderLevelHasAttn, vaeConfig, type VaeConfig } from '../../models/vae/config.js';
import type {
  AttnBlockParams,
  DecoderLevelParams,
  EncoderLevelParams,
  MidParams,
  ResnetBlockParams,
  VaeParams,
} from '../../models/vae/params.js';
import type { Conv2dParams } from '../../nn/conv.js';
import type { GroupNormParams } from '../../nn/group-norm.js';
import {
  StateDictError,
  StateDictReader,
  tensorToEntry,
  type Layout,
  type LoadOptions,
  type StateDict,
  type StateDictLike,
} from './entries.js';

type LeafFn = (key: string, shape: readonly number[], layout: Layout) => T<never>;

/** Walks the official module tree of `cfg` in registration order, asking `leaf` for every tensor. */
function buildVae(cfg: VaeConfig, leaf: LeafFn): VaeParams<never> {
  const conv = (pre: string, out: number, inn: number, k: number): Conv2dParams<never> => ({
    w: leaf(`${pre}.weight`, [out, inn, k, k], 'conv'),
    b: leaf(`${pre}.bias`, [out], 'same'),
  });
  const norm = (pre: string, c: number): GroupNormParams<never> => ({
    w: leaf(`${pre}.weight`, [c], 'same'),
    b: leaf(`${pre}.bias`, [c], 'same'),
  });
  const resnet = (pre: string, inn: number, out: number): ResnetBlockParams<never> => {
    const base = {
      norm1: norm(`${pre}.norm1`, inn),
      conv1: conv(`${pre}.conv1`, out, inn, 3),
      norm2: norm(`${pre}.norm2`, out),
      conv2: conv(`${pre}.conv2`, out, out, 3),
    };
    return inn === out ? base : { ...base, ninShortcut: conv(`${pre}.nin_shortcut`, out, inn, 1) };
  };
  const attn = (pre: string, c: number): AttnBlockParams<never> => ({
    norm: norm(`${pre}.norm`, c),
    q: conv(`${pre}.q`, c, c, 1),
    k: conv(`${pre}.k`, c, c, 1),
    v: conv(`${pre}.v`, c, c, 1),
    projOut: conv(`${pre}.proj_out`, c, c, 1),
  });
  const mid = (pre: string, c: number): MidParams<never> => ({
    block1: resnet(`${pre}.block_1`, c, c),
    attn1: attn(`${pre}.attn_1`, c),
    block2: resnet(`${pre}.block_2`, c, c),
  });
  const L = cfg.chMult.length;
  const width = (l: number): number => cfg.ch * (cfg.chMult[l] as number);

  const encConvIn = conv('encoder.conv_in', cfg.ch, cfg.inChannels, 3);
  const down: EncoderLevelParams<never>[] = [];
  let c = cfg.ch;
  for (let l = 0; l < L; l++) {
    const blocks: ResnetBlockParams<never>[] = [];
    const attns: AttnBlockParams<never>[] = [];
    for (let i = 0; i < cfg.numResBlocks; i++) {
      blocks.push(resnet(`encoder.down.${l}.block.${i}`, c, width(l)));
      c = width(l);
      if (encoderLevelHasAttn(cfg, l)) attns.push(attn(`encoder.down.${l}.attn.${i}`, c));
    }
    down.push(l === L - 1 ? { block: blocks, attn: attns } : { block: blocks, attn: attns, downsample: { conv: conv(`encoder.down.${l}.downsample.conv`, c, c, 3) } });
  }
  const encoder = {
    convIn: encConvIn,
    down,
    mid: mid('encoder.mid', c),
    normOut: norm('encoder.norm_out', c),
    convOut: conv('encoder.conv_out', 2 * cfg.embedDim, c, 3),
  };

  c = width(L - 1);
  const decConvIn = conv('decoder.conv_in', c, cfg.embedDim, 3);
  const decMid = mid('decoder.mid', c);
  // State-dict order is up.0 … up.L−1; level l's first block takes the width of level l+1 (the top level its own).
  const up: DecoderLevelParams<never>[] = [];
  for (let l = 0; l < L; l++) {
    let cin = width(Math.min(l + 1, L - 1));
    const blocks: ResnetBlockParams<never>[] = [];
    const attns: AttnBlockParams<never>[] = [];
    for (let i = 0; i < cfg.numResBlocks + 1; i++) {
      blocks.push(resnet(`decoder.up.${l}.block.${i}`, cin, width(l)));
      cin = width(l);
      if (decoderLevelHasAttn(cfg, l)) attns.push(attn(`decoder.up.${l}.attn.${i}`, cin));
    }
    up.push(l === 0 ? { block: blocks, attn: attns } : { block: blocks, attn: attns, upsample: { conv: conv(`decoder.up.${l}.upsample.conv`, cin, cin, 3) } });
  }
  const decoder = {
    convIn: decConvIn,
    mid: decMid,
    up,
    normOut: norm('decoder.norm_out', width(0)),
    convOut: conv('decoder.conv_out', cfg.outCh, width(0), 3),
  };
  return {
    encoder,
    decoder,
    quantConv: conv('quant_conv', 2 * cfg.embedDim, 2 * cfg.embedDim, 1),
    postQuantConv: conv('post_quant_conv', cfg.embedDim, cfg.embedDim, 1),
  };
}

/**
 * The official state-dict keys and PyTorch shapes of an AutoencoderKL with config `cfg`, in
 * registration order (248 entries for `f8d4`, 342 for `f16d32`).
 * @category io
 */
export function vaeStateDictSpec(cfg: VaeConfig): { readonly key: string; readonly shape: readonly number[] }[] {
  const out: { key: string; shape: readonly number[] }[] = [];
  buildVae(cfg, (key, shape) => {
    out.push({ key, shape });
    return null as unknown as T<never>;
  });
  return out;
}

/**
 * Builds `VaeParams` from an official state dict (e.g. a REPA-E `vae` checkpoint converted to
 * safetensors, or a golden fixture with `prefix`). Every key of `cfg` must be present with its
 * exact shape; with `strict` (default) extra keys are an error too. Errors are {@link StateDictError}s
 * naming the key and both shapes.
 *
 * @example
 * const sd = readSafetensors(bytes).entries
 * const vae = vaeFromStateDict(sd, vaeConfigFromStateDict(sd))
 * @category io
 */
export function vaeFromStateDict(sd: StateDictLike, cfg: VaeConfig, opts: LoadOptions = {}): VaeParams<never> {
  const r = new StateDictReader(sd, 'vae', opts);
  const made: T<never>[] = [];
  try {
    const p = buildVae(cfg, (key, shape, layout) => {
      const t = r.tensor(key, shape, layout);
      made.push(t);
      return t;
    });
    r.finish(opts.strict ?? true);
    return p;
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
}

const RENAME: Readonly<Record<string, string>> = {
  convIn: 'conv_in',
  convOut: 'conv_out',
  normOut: 'norm_out',
  ninShortcut: 'nin_shortcut',
  projOut: 'proj_out',
  quantConv: 'quant_conv',
  postQuantConv: 'post_quant_conv',
  block1: 'block_1',
  block2: 'block_2',
  attn1: 'attn_1',
  w: 'weight',
  b: 'bias',
};

/** Leaves of a parameter tree with their official key, in insertion (registration) order. */
function officialLeaves(tree: unknown, path: string, out: [string, T<string>][]): [string, T<string>][] {
  if (tree === undefined || tree === null) return out;
  if (typeof tree === 'object' && 'shape' in tree && 'dtype' in tree) {
    out.push([path, tree as T<string>]);
    return out;
  }
  if (Array.isArray(tree)) tree.forEach((c, i) => officialLeaves(c, `${path}.${i}`, out));
  else for (const [k, v] of Object.entries(tree as Record<string, unknown>)) officialLeaves(v, path === '' ? (RENAME[k] ?? k) : `${path}.${RENAME[k] ?? k}`, out);
  return out;
}

/**
 * Writes `VaeParams` (or a gradient tree of the same structure) as an official state dict in PyTorch
 * layout (async: reads every tensor back). Keys and order are the official ones
 * (`encoder.conv_in.weight`, …, `post_quant_conv.bias`).
 *
 * @example
 * writeSafetensors(await vaeToStateDict(p))
 * @category io
 */
export async function vaeToStateDict(p: VaeParams<string>): Promise<StateDict> {
  const out: StateDict = new Map();
  for (const [key, t] of officialLeaves(p, '', [])) out.set(key, await tensorToEntry(t, t.rank === 4 ? 'conv' : 'same'));
  return out;
}

/**
 * Infers the configuration of an official state dict: `E` from `post_quant_conv`, `ch` from
 * `encoder.conv_in`, `ch_mult` from the first res block of every encoder level, the number of res
 * blocks and which levels carry attention (mapped to `attn_resolutions` at nominal resolution 256).
 * @category io
 */
export function vaeConfigFromStateDict(sd: StateDictLike, opts: { readonly prefix?: string; readonly resolution?: number } = {}): VaeConfig {
  const pre = opts.prefix ?? '';
  const shape = (k: string): readonly number[] => {
    const e = sd.get(pre + k);
    if (e === undefined) throw new StateDictError(`vae state dict: missing key '${pre + k}' (needed to infer the configuration)`, k);
    return e.shape;
  };
  const embedDim = shape('post_quant_conv.weight')[0] as number;
  const convIn = shape('encoder.conv_in.weight');
  const ch = convIn[0] as number;
  const convInBias = sd.get(`${pre}encoder.conv_in.bias`)?.shape;
  if (convIn.length !== 4 || (convInBias !== undefined && convInBias[0] !== ch))
    throw new StateDictError(
      `vae state dict: '${pre}encoder.conv_in.weight' has shape [${convIn.join(', ')}], expected [out, in, kh, kw]${convInBias === undefined ? '' : ` with out = ${convInBias[0]} (the length of encoder.conv_in.bias)`}`,
      'encoder.conv_in.weight',
    );
  let L = 0;
  while (sd.has(`${pre}encoder.down.${L}.block.0.conv1.weight`)) L++;
  let numResBlocks = 0;
  while (sd.has(`${pre}encoder.down.0.block.${numResBlocks}.conv1.weight`)) numResBlocks++;
  const chMult = Array.from({ length: L }, (_, l) => (shape(`encoder.down.${l}.block.0.conv1.weight`)[0] as number) / ch);
  const resolution = opts.resolution ?? 256;
  const attnResolutions: number[] = [];
  for (let l = 0; l < L; l++) if (sd.has(`${pre}encoder.down.${l}.attn.0.q.weight`)) attnResolutions.push(Math.floor(resolution / 2 ** l));
  const build = (): VaeConfig => vaeConfig({
    embedDim,
    ch,
    chMult,
    numResBlocks,
    attnResolutions,
    resolution,
    inChannels: convIn[1] as number,
    outCh: shape('decoder.conv_out.weight')[0] as number,
  });
  try {
    return build();
  } catch (e) {
    if (e instanceof StateDictError) throw e;
    throw new StateDictError(`vae state dict: the shapes give no valid VAE (ch ${ch} from encoder.conv_in.weight, ch_mult [${chMult.join(', ')}]): ${(e as Error).message}`, 'encoder.conv_in.weight');
  }
}
