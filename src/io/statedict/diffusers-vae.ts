/**
 * @file Official (LDM) AutoencoderKL names ↔ diffusers `AutoencoderKL` names (REPAE_SPEC §3.6): the
 * standard LDM→diffusers conversion, with the decoder's level index reversed and the attention
 * projections reshaped from 1×1 convs `[c, c, 1, 1]` to linears `[c, c]`.
 */
import { vaeConfig, type VaeConfig } from '../../models/vae/config.js';
import { StateDictError, type StateDict, type StateDictLike, type StateEntry } from './entries.js';

const RESNET_TO_DIFFUSERS: Readonly<Record<string, string>> = {
  norm1: 'norm1',
  conv1: 'conv1',
  norm2: 'norm2',
  conv2: 'conv2',
  nin_shortcut: 'conv_shortcut',
};
const ATTN_TO_DIFFUSERS: Readonly<Record<string, string>> = {
  norm: 'group_norm',
  q: 'to_q',
  k: 'to_k',
  v: 'to_v',
  proj_out: 'to_out.0',
};
/** Legacy diffusers attention names (before diffusers 0.14), accepted when reading. */
const LEGACY_ATTN: Readonly<Record<string, string>> = { query: 'q', key: 'k', value: 'v', proj_attn: 'proj_out', group_norm: 'norm' };

const invert = (m: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(Object.entries(m).map(([a, b]) => [b, a]));
const RESNET_FROM_DIFFUSERS = invert(RESNET_TO_DIFFUSERS);
const ATTN_FROM_DIFFUSERS = invert(ATTN_TO_DIFFUSERS);

const unknown = (key: string, side: string): never => {
  throw new StateDictError(`vae ${side} state dict: key '${key}' has no counterpart in the ${side === 'official' ? 'diffusers' : 'official'} layout`, key);
};

/** Maps the tail of a resnet key (`conv1.weight`, `nin_shortcut.bias`, …). */
function mapTail(tail: string, table: Readonly<Record<string, string>>, key: string, side: string): string {
  const dot = tail.lastIndexOf('.');
  const mod = tail.slice(0, dot);
  const mapped = table[mod];
  if (mapped === undefined) return unknown(key, side);
  return `${mapped}${tail.slice(dot)}`;
}

/**
 * The diffusers name of an official AutoencoderKL key, for a model with `levels` levels (4 for
 * f8d4, 5 for f16d32). E.g. `decoder.up.3.block.0.conv1.weight` → `decoder.up_blocks.0.resnets.0.conv1.weight`,
 * `encoder.mid.attn_1.proj_out.weight` → `encoder.mid_block.attentions.0.to_out.0.weight`.
 * Throws {@link StateDictError} for a key that has no counterpart.
 * @category io
 */
export function officialToDiffusersVaeKey(key: string, levels: number): string {
  if (/^(quant_conv|post_quant_conv)\.(weight|bias)$/.test(key)) return key;
  const m = /^(encoder|decoder)\.(.*)$/.exec(key);
  if (m === null) return unknown(key, 'official');
  const [, side, rest] = m as unknown as [string, 'encoder' | 'decoder', string];
  let r: RegExpExecArray | null;
  if ((r = /^(conv_in|conv_out)\.(weight|bias)$/.exec(rest)) !== null) return key;
  if ((r = /^norm_out\.(weight|bias)$/.exec(rest)) !== null) return `${side}.conv_norm_out.${r[1]}`;
  if ((r = /^mid\.block_([12])\.(.+)$/.exec(rest)) !== null)
    return `${side}.mid_block.resnets.${Number(r[1]) - 1}.${mapTail(r[2] as string, RESNET_TO_DIFFUSERS, key, 'official')}`;
  if ((r = /^mid\.attn_1\.(.+)$/.exec(rest)) !== null) return `${side}.mid_block.attentions.0.${mapTail(r[1] as string, ATTN_TO_DIFFUSERS, key, 'official')}`;
  const lv = side === 'encoder' ? /^down\.(\d+)\.(.+)$/.exec(rest) : /^up\.(\d+)\.(.+)$/.exec(rest);
  if (lv === null) return unknown(key, 'official');
  const l = Number(lv[1]);
  if (l >= levels) return unknown(key, 'official');
  const blocks = side === 'encoder' ? `encoder.down_blocks.${l}` : `decoder.up_blocks.${levels - 1 - l}`;
  const inner = lv[2] as string;
  if ((r = /^block\.(\d+)\.(.+)$/.exec(inner)) !== null) return `${blocks}.resnets.${r[1]}.${mapTail(r[2] as string, RESNET_TO_DIFFUSERS, key, 'official')}`;
  if ((r = /^attn\.(\d+)\.(.+)$/.exec(inner)) !== null) return `${blocks}.attentions.${r[1]}.${mapTail(r[2] as string, ATTN_TO_DIFFUSERS, key, 'official')}`;
  if (side === 'encoder' && (r = /^downsample\.conv\.(weight|bias)$/.exec(inner)) !== null) return `${blocks}.downsamplers.0.conv.${r[1]}`;
  if (side === 'decoder' && (r = /^upsample\.conv\.(weight|bias)$/.exec(inner)) !== null) return `${blocks}.upsamplers.0.conv.${r[1]}`;
  return unknown(key, 'official');
}

/**
 * The official name of a diffusers AutoencoderKL key (inverse of {@link officialToDiffusersVaeKey});
 * also accepts the legacy attention names `query/key/value/proj_attn`.
 * @category io
 */
export function diffusersToOfficialVaeKey(key: string, levels: number): string {
  if (/^(quant_conv|post_quant_conv)\.(weight|bias)$/.test(key)) return key;
  const m = /^(encoder|decoder)\.(.*)$/.exec(key);
  if (m === null) return unknown(key, 'diffusers');
  const [, side, rest] = m as unknown as [string, 'encoder' | 'decoder', string];
  const attnTail = (tail: string): string => {
    const dot = tail.lastIndexOf('.');
    const mod = tail.slice(0, dot);
    const off = ATTN_FROM_DIFFUSERS[mod] ?? LEGACY_ATTN[mod];
    if (off === undefined) return unknown(key, 'diffusers');
    return `${off}${tail.slice(dot)}`;
  };
  let r: RegExpExecArray | null;
  if ((r = /^(conv_in|conv_out)\.(weight|bias)$/.exec(rest)) !== null) return key;
  if ((r = /^conv_norm_out\.(weight|bias)$/.exec(rest)) !== null) return `${side}.norm_out.${r[1]}`;
  if ((r = /^mid_block\.resnets\.([01])\.(.+)$/.exec(rest)) !== null)
    return `${side}.mid.block_${Number(r[1]) + 1}.${mapTail(r[2] as string, RESNET_FROM_DIFFUSERS, key, 'diffusers')}`;
  if ((r = /^mid_block\.attentions\.0\.(.+)$/.exec(rest)) !== null) return `${side}.mid.attn_1.${attnTail(r[1] as string)}`;
  const lv = side === 'encoder' ? /^down_blocks\.(\d+)\.(.+)$/.exec(rest) : /^up_blocks\.(\d+)\.(.+)$/.exec(rest);
  if (lv === null) return unknown(key, 'diffusers');
  const i = Number(lv[1]);
  if (i >= levels) return unknown(key, 'diffusers');
  const pre = side === 'encoder' ? `encoder.down.${i}` : `decoder.up.${levels - 1 - i}`;
  const inner = lv[2] as string;
  if ((r = /^resnets\.(\d+)\.(.+)$/.exec(inner)) !== null) return `${pre}.block.${r[1]}.${mapTail(r[2] as string, RESNET_FROM_DIFFUSERS, key, 'diffusers')}`;
  if ((r = /^attentions\.(\d+)\.(.+)$/.exec(inner)) !== null) return `${pre}.attn.${r[1]}.${attnTail(r[2] as string)}`;
  if (side === 'encoder' && (r = /^downsamplers\.0\.conv\.(weight|bias)$/.exec(inner)) !== null) return `${pre}.downsample.conv.${r[1]}`;
  if (side === 'decoder' && (r = /^upsamplers\.0\.conv\.(weight|bias)$/.exec(inner)) !== null) return `${pre}.upsample.conv.${r[1]}`;
  return unknown(key, 'diffusers');
}

const isAttnProjection = (officialKey: string): boolean => /\.(attn_1|attn\.\d+)\.(q|k|v|proj_out)\.weight$/.test(officialKey);

/** Number of levels of an official state dict (`encoder.down.{l}` count). */
const officialLevels = (sd: StateDictLike): number => {
  let L = 0;
  while ([...sd.keys()].some((k) => k.startsWith(`encoder.down.${L}.`))) L++;
  return L;
};

/**
 * Converts an official AutoencoderKL state dict to the diffusers layout (the content of
 * `diffusion_pytorch_model.safetensors`): keys renamed, attention projection weights reshaped
 * `[c, c, 1, 1]` → `[c, c]` (same values).
 * @category io
 */
export function vaeStateDictToDiffusers(sd: StateDictLike): StateDict {
  const levels = officialLevels(sd);
  const out: StateDict = new Map();
  for (const [k, e] of sd) {
    const shape = isAttnProjection(k) ? e.shape.slice(0, 2) : e.shape;
    out.set(officialToDiffusersVaeKey(k, levels), { dtype: dtypeOf(e), shape, data: e.data });
  }
  return out;
}

/**
 * Converts a diffusers AutoencoderKL state dict (`diffusion_pytorch_model.safetensors`) to the
 * official layout: keys renamed (legacy attention names accepted), linear attention projections
 * reshaped `[c, c]` → `[c, c, 1, 1]`.
 * @category io
 */
export function vaeStateDictFromDiffusers(sd: StateDictLike): StateDict {
  let levels = 0;
  while ([...sd.keys()].some((k) => k.startsWith(`encoder.down_blocks.${levels}.`))) levels++;
  const out: StateDict = new Map();
  for (const [k, e] of sd) {
    const key = diffusersToOfficialVaeKey(k, levels);
    const shape = isAttnProjection(key) && e.shape.length === 2 ? [...e.shape, 1, 1] : e.shape;
    out.set(key, { dtype: dtypeOf(e), shape, data: e.data });
  }
  return out;
}

const dtypeOf = (e: { readonly shape: readonly number[]; readonly data: ArrayLike<number> }): StateEntry['dtype'] =>
  'dtype' in e && typeof (e as { dtype?: unknown }).dtype === 'string' ? (e as StateEntry).dtype : 'F32';

/**
 * The diffusers `config.json` of an AutoencoderKL with configuration `cfg` (`block_out_channels`,
 * `layers_per_block`, `latent_channels`, block types with `Attn…` where a level has attention, …).
 * `scaling_factor` is written as 1 with `shift_factor` null because REPA-E does not use them (it
 * uses the per-channel latent statistics instead).
 * @category io
 */
export function diffusersVaeConfig(cfg: VaeConfig): Record<string, unknown> {
  const L = cfg.chMult.length;
  const attnAt = (l: number): boolean => cfg.attnResolutions.includes(Math.floor(cfg.resolution / 2 ** l));
  return {
    _class_name: 'AutoencoderKL',
    _diffusers_version: '0.30.0',
    act_fn: 'silu',
    block_out_channels: cfg.chMult.map((m) => cfg.ch * m),
    down_block_types: Array.from({ length: L }, (_, l) => (attnAt(l) ? 'AttnDownEncoderBlock2D' : 'DownEncoderBlock2D')),
    up_block_types: Array.from({ length: L }, (_, i) => (attnAt(L - 1 - i) ? 'AttnUpDecoderBlock2D' : 'UpDecoderBlock2D')),
    in_channels: cfg.inChannels,
    out_channels: cfg.outCh,
    latent_channels: cfg.embedDim,
    layers_per_block: cfg.numResBlocks,
    norm_num_groups: 32,
    sample_size: cfg.resolution,
    mid_block_add_attention: true,
    force_upcast: true,
    scaling_factor: 1,
    shift_factor: null,
    use_quant_conv: true,
    use_post_quant_conv: true,
  };
}

/**
 * Reads a diffusers AutoencoderKL `config.json` into a {@link VaeConfig}. Fails with a message
 * naming the field for what the official architecture cannot express (another activation or group
 * count, unequal block widths, missing mid attention).
 * @category io
 */
export function vaeConfigFromDiffusers(json: Readonly<Record<string, unknown>>): VaeConfig {
  const get = <X>(k: string, ok: (v: unknown) => v is X, dflt?: X): X => {
    const v = json[k] ?? dflt;
    if (!ok(v)) throw new Error(`diffusers config: field '${k}' is missing or invalid (${JSON.stringify(json[k])})`);
    return v;
  };
  const isNum = (v: unknown): v is number => typeof v === 'number';
  const isNums = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNum);
  const isStrs = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
  const isStr = (v: unknown): v is string => typeof v === 'string';
  const widths = get('block_out_channels', isNums);
  if (get('act_fn', isStr, 'silu') !== 'silu') throw new Error(`diffusers config: act_fn '${String(json['act_fn'])}' is not supported (official VAE uses silu)`);
  if (get('norm_num_groups', isNum, 32) !== 32) throw new Error(`diffusers config: norm_num_groups ${String(json['norm_num_groups'])} is not supported (official VAE uses 32)`);
  if (json['mid_block_add_attention'] === false) throw new Error('diffusers config: mid_block_add_attention false is not supported (the official mid block has attention)');
  const ch = widths[0] as number;
  const down = get('down_block_types', isStrs, widths.map(() => 'DownEncoderBlock2D'));
  const resolution = get('sample_size', isNum, 256);
  const attnResolutions = down.flatMap((t, l) => (t.startsWith('Attn') ? [Math.floor(resolution / 2 ** l)] : []));
  return vaeConfig({
    ch,
    chMult: widths.map((w) => w / ch),
    embedDim: get('latent_channels', isNum),
    numResBlocks: get('layers_per_block', isNum, 2),
    attnResolutions,
    resolution,
    inChannels: get('in_channels', isNum, 3),
    outCh: get('out_channels', isNum, 3),
  });
}
