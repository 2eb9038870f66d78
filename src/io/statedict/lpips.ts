/**
 * @file Official LPIPS state-dict names (`loss/lpips.py`: `net.slice{s}.{idx}.*`, `lin{k}.model.1.weight`,
 * `scaling_layer.{shift,scale}`), torchvision VGG16 `features.{idx}.*`, and the LPIPS v0.1 lin-weight
 * files (`converted-f32/v0.1_<net>.{bin,json}`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../../core/tensor.js';
import { LPIPS_CHANNELS, LPIPS_SCALE, LPIPS_SHIFT, VGG16_CONVS, type LpipsParams, type Vgg16FeaturesParams } from '../../models/lpips.js';
import { StateDictError, StateDictReader, tensorToEntry, type LoadOptions, type StateDict, type StateDictLike } from './entries.js';

/** Options of {@link lpipsFromStateDict}. @category io */
export interface LpipsLoadOptions extends LoadOptions {
  /** A VGG16 trunk to use instead of the `net.*` keys (e.g. `proceduralVgg16()` from the models' `lpipsProcedural`); then `net.*` keys are not read. */
  readonly net?: Vgg16FeaturesParams<never>;
}

/**
 * The official LPIPS keys and PyTorch shapes: the VGG16 trunk `net.slice{s}.{idx}.{weight,bias}`
 * (unless `withNet` is false), `lin{k}.model.1.weight` `[1, c_k, 1, 1]` and the scaling-layer buffers
 * `[1, 3, 1, 1]`.
 * @category io
 */
export function lpipsStateDictSpec(withNet = true): { readonly key: string; readonly shape: readonly number[] }[] {
  const out: { key: string; shape: readonly number[] }[] = [
    { key: 'scaling_layer.shift', shape: [1, 3, 1, 1] },
    { key: 'scaling_layer.scale', shape: [1, 3, 1, 1] },
  ];
  if (withNet)
    for (const c of VGG16_CONVS)
      out.push(
        { key: `net.slice${c.slice}.${c.index}.weight`, shape: [c.outCh, c.inCh, 3, 3] },
        { key: `net.slice${c.slice}.${c.index}.bias`, shape: [c.outCh] },
      );
  LPIPS_CHANNELS.forEach((c, k) => out.push({ key: `lin${k}.model.1.weight`, shape: [1, c, 1, 1] }));
  return out;
}

/**
 * Builds LPIPS parameters from an official LPIPS state dict. The scaling-layer buffers default to
 * the official constants when absent (the v0.1 weight files hold only the `lin` layers); the trunk
 * comes from `net.*` keys or from `opts.net`. Errors name the key and both shapes.
 *
 * @example
 * const lin = readLpipsLinWeights(json, bin)
 * const lp = lpipsFromStateDict(lin, { net: proceduralVgg16() })
 * @category io
 */
export function lpipsFromStateDict(sd: StateDictLike, opts: LpipsLoadOptions = {}): LpipsParams<never> {
  const r = new StateDictReader(sd, 'lpips', opts);
  const made: T<never>[] = [];
  const t = (key: string, shape: readonly number[], conv: boolean): T<never> => {
    const x = r.tensor(key, shape, conv ? 'conv' : 'same');
    made.push(x);
    return x;
  };
  try {
    const scaling = (name: 'shift' | 'scale', dflt: readonly number[]): T<never> => {
      if (!r.has(`scaling_layer.${name}`)) {
        const x = tf.tensor1d([...dflt], 'float32') as T<never>;
        made.push(x);
        return x;
      }
      const x = t(`scaling_layer.${name}`, [1, 3, 1, 1], false);
      const y = tf.reshape(x, [3]) as T<never>;
      made.push(y);
      return y;
    };
    const shift = scaling('shift', LPIPS_SHIFT);
    const scale = scaling('scale', LPIPS_SCALE);
    const net: Vgg16FeaturesParams<never> = opts.net ?? {
      slices: [1, 2, 3, 4, 5].map((s) =>
        VGG16_CONVS.filter((c) => c.slice === s).map((c) => ({
          w: t(`net.slice${s}.${c.index}.weight`, [c.outCh, c.inCh, 3, 3], true),
          b: t(`net.slice${s}.${c.index}.bias`, [c.outCh], false),
        })),
      ),
    };
    const lin = LPIPS_CHANNELS.map((c, k) => {
      const x = t(`lin${k}.model.1.weight`, [1, c, 1, 1], false);
      const y = tf.reshape(x, [1, 1, c, 1]) as T<never>;
      made.push(y);
      return y;
    });
    r.finish(opts.strict ?? true);
    // Drop the intermediate (pre-reshape) tensors; keep the ones in the result.
    const keep = new Set<unknown>([shift, scale, ...lin, ...net.slices.flatMap((s) => s.flatMap((c) => (c.b === undefined ? [c.w] : [c.w, c.b])))]);
    for (const x of made) if (!keep.has(x)) x.dispose();
    return { net, lin, shift, scale };
  } catch (e) {
    tf.dispose(made);
    throw e;
  }
}

/**
 * Writes LPIPS parameters as an official state dict (scaling buffers `[1, 3, 1, 1]`, trunk unless
 * `withNet` is false, `lin{k}.model.1.weight` `[1, c, 1, 1]`).
 * @category io
 */
export async function lpipsToStateDict(p: LpipsParams<string>, withNet = true): Promise<StateDict> {
  const out: StateDict = new Map();
  const vec = async (x: T<string>, shape: readonly number[]): Promise<{ dtype: 'F32'; shape: readonly number[]; data: Float32Array }> => ({
    dtype: 'F32',
    shape,
    data: Float32Array.from((await tensorToEntry(x, 'same')).data),
  });
  out.set('scaling_layer.shift', await vec(p.shift, [1, 3, 1, 1]));
  out.set('scaling_layer.scale', await vec(p.scale, [1, 3, 1, 1]));
  if (withNet)
    for (const [s, convs] of p.net.slices.entries()) {
      const defs = VGG16_CONVS.filter((c) => c.slice === s + 1);
      for (const [j, conv] of convs.entries()) {
        const idx = defs[j]?.index;
        if (idx === undefined) throw new StateDictError(`lpips: slice ${s + 1} has more convs than VGG16`, `net.slice${s + 1}`);
        out.set(`net.slice${s + 1}.${idx}.weight`, await tensorToEntry(conv.w, 'conv'));
        if (conv.b !== undefined) out.set(`net.slice${s + 1}.${idx}.bias`, await tensorToEntry(conv.b, 'same'));
      }
    }
  for (const [k, w] of p.lin.entries()) out.set(`lin${k}.model.1.weight`, await vec(w, [1, w.shape[2] as number, 1, 1]));
  return out;
}

/**
 * Renames a torchvision VGG16 state dict (`features.{idx}.{weight,bias}`, e.g. from
 * `vgg16-397923af.pth` converted to safetensors) to LPIPS trunk keys `net.slice{s}.{idx}.*`;
 * `classifier.*` and features beyond index 28 are dropped.
 * @category io
 */
export function torchvisionVgg16ToLpips(sd: StateDictLike): StateDict {
  const out: StateDict = new Map();
  for (const c of VGG16_CONVS)
    for (const kind of ['weight', 'bias'] as const) {
      const e = sd.get(`features.${c.index}.${kind}`);
      if (e === undefined) throw new StateDictError(`torchvision vgg16 state dict: missing key 'features.${c.index}.${kind}'`, `features.${c.index}.${kind}`);
      out.set(`net.slice${c.slice}.${c.index}.${kind}`, { dtype: 'F32', shape: e.shape, data: e.data });
    }
  return out;
}

/** One entry of a `converted-f32/v0.1_<net>.json` index. @category io */
export interface LinIndexEntry {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly offset: number;
  readonly nbytes: number;
}

/**
 * Reads the LPIPS v0.1 linear-layer weights in the `converted-f32` format: a JSON index
 * `{ name: { shape, dtype: 'float32', offset, nbytes } }` and a raw little-endian float32 blob.
 * Returns a state dict with keys `lin{k}.model.1.weight`.
 *
 * @example
 * const lin = readLpipsLinWeights(JSON.parse(readFileSync('v0.1_vgg.json', 'utf8')), readFileSync('v0.1_vgg.bin'))
 * @category io
 */
export function readLpipsLinWeights(index: Readonly<Record<string, LinIndexEntry>>, bin: Uint8Array): StateDict {
  const out: StateDict = new Map();
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  for (const [name, e] of Object.entries(index)) {
    if (e.dtype !== 'float32') throw new StateDictError(`lpips lin file: key '${name}' has dtype ${e.dtype}, expected float32`, name);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.nbytes !== 4 * n || e.offset + e.nbytes > bin.byteLength)
      throw new StateDictError(`lpips lin file: key '${name}' spans bytes [${e.offset}, ${e.offset + e.nbytes}) for ${n} values; the blob has ${bin.byteLength} bytes`, name);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(e.offset + 4 * i, true);
    out.set(name, { dtype: 'F32', shape: [...e.shape], data });
  }
  return out;
}
