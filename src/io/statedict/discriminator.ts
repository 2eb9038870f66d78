/**
 * @file Official PatchGAN state-dict names (`loss/discriminator.py` `NLayerDiscriminator.main.{i}`,
 * REPAE_SPEC §4.5) ↔ repae `DiscriminatorParams` + `DiscriminatorState`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { T } from '../../core/tensor.js';
import { dispose } from '../../core/scope.js';
import type { BatchNormState } from '../../nn/batch-norm.js';
import type { Conv2dParams } from '../../nn/conv.js';
import {
  discriminatorWidths,
  type DiscriminatorConfig,
  type DiscriminatorParams,
  type DiscriminatorState,
} from '../../models/discriminator.js';
import { StateDictError, StateDictReader, tensorToEntry, type LoadOptions, type StateDict, type StateDictLike } from './entries.js';

/** Index of stage `n` (1-based) conv in `main` (its BatchNorm is at +1). */
const convIndex = (n: number): number => 3 * n - 1;
const outIndex = (cfg: DiscriminatorConfig): number => 3 * cfg.nLayers + 2;

/**
 * The official keys and PyTorch shapes of an `NLayerDiscriminator` (parameters and, with
 * `buffers`, the BatchNorm buffers `running_mean`, `running_var`, `num_batches_tracked` (I64, `[]`)),
 * in registration order.
 * @category io
 */
export function discriminatorStateDictSpec(
  cfg: DiscriminatorConfig,
  buffers = true,
): { readonly key: string; readonly shape: readonly number[]; readonly buffer: boolean }[] {
  const w = discriminatorWidths(cfg);
  const out: { key: string; shape: readonly number[]; buffer: boolean }[] = [
    { key: 'main.0.weight', shape: [w[0] as number, cfg.inputNc, 4, 4], buffer: false },
    { key: 'main.0.bias', shape: [w[0] as number], buffer: false },
  ];
  for (let n = 1; n <= cfg.nLayers; n++) {
    const c = w[n] as number, i = convIndex(n);
    out.push({ key: `main.${i}.weight`, shape: [c, w[n - 1] as number, 4, 4], buffer: false });
    out.push({ key: `main.${i + 1}.weight`, shape: [c], buffer: false }, { key: `main.${i + 1}.bias`, shape: [c], buffer: false });
    if (buffers)
      out.push(
        { key: `main.${i + 1}.running_mean`, shape: [c], buffer: true },
        { key: `main.${i + 1}.running_var`, shape: [c], buffer: true },
        { key: `main.${i + 1}.num_batches_tracked`, shape: [], buffer: true },
      );
  }
  const o = outIndex(cfg);
  out.push({ key: `main.${o}.weight`, shape: [1, w[cfg.nLayers] as number, 4, 4], buffer: false }, { key: `main.${o}.bias`, shape: [1], buffer: false });
  return out;
}

/**
 * Infers `input_nc`, `ndf` and `n_layers` from an official discriminator state dict.
 * @category io
 */
export function discriminatorConfigFromStateDict(sd: StateDictLike, opts: { readonly prefix?: string } = {}): DiscriminatorConfig {
  const pre = opts.prefix ?? '';
  const first = sd.get(`${pre}main.0.weight`);
  if (first === undefined) throw new StateDictError(`discriminator state dict: missing key '${pre}main.0.weight' (needed to infer the configuration)`, 'main.0.weight');
  let nLayers = 0;
  while (sd.has(`${pre}main.${convIndex(nLayers + 1) + 1}.weight`) && sd.get(`${pre}main.${convIndex(nLayers + 1) + 1}.weight`)?.shape.length === 1) nLayers++;
  return { inputNc: first.shape[1] as number, ndf: first.shape[0] as number, nLayers };
}

/**
 * Builds discriminator parameters and BatchNorm state from an official state dict (a REPA-E
 * checkpoint's `discriminator` entry, or a fixture with `prefix`). The configuration is inferred
 * unless given. Errors name the key and both shapes.
 * @category io
 */
export function discriminatorFromStateDict(
  sd: StateDictLike,
  cfg?: DiscriminatorConfig,
  opts: LoadOptions = {},
): { readonly params: DiscriminatorParams<never>; readonly state: DiscriminatorState } {
  const c = cfg ?? discriminatorConfigFromStateDict(sd, opts);
  const r = new StateDictReader(sd, 'discriminator', opts);
  const made: T<never>[] = [];
  const t = (key: string, shape: readonly number[], conv: boolean): T<never> => {
    const x = r.tensor(key, shape, conv ? 'conv' : 'same');
    made.push(x);
    return x;
  };
  try {
    const spec = new Map(discriminatorStateDictSpec(c).map((e) => [e.key, e.shape]));
    const shape = (k: string): readonly number[] => spec.get(k) as readonly number[];
    const conv = (i: number, bias: boolean): Conv2dParams<never> =>
      bias ? { w: t(`main.${i}.weight`, shape(`main.${i}.weight`), true), b: t(`main.${i}.bias`, shape(`main.${i}.bias`), false) } : { w: t(`main.${i}.weight`, shape(`main.${i}.weight`), true) };
    const convIn = conv(0, true);
    const layers = [];
    const bn: BatchNormState[] = [];
    for (let n = 1; n <= c.nLayers; n++) {
      const i = convIndex(n), b = i + 1;
      layers.push({ conv: conv(i, false), bn: { w: t(`main.${b}.weight`, shape(`main.${b}.weight`), false), b: t(`main.${b}.bias`, shape(`main.${b}.bias`), false) } });
      bn.push({
        runningMean: t(`main.${b}.running_mean`, shape(`main.${b}.running_mean`), false),
        runningVar: t(`main.${b}.running_var`, shape(`main.${b}.running_var`), false),
        numBatchesTracked: r.number(`main.${b}.num_batches_tracked`),
      });
    }
    const convOut = conv(outIndex(c), true);
    r.finish(opts.strict ?? true);
    return { params: { convIn, layers, convOut }, state: { bn } };
  } catch (e) {
    dispose(made);
    throw e;
  }
}

/**
 * Writes discriminator parameters (or a gradient tree of the same structure) and, when given, the
 * BatchNorm buffers as an official state dict in PyTorch layout (`num_batches_tracked` as I64).
 * @category io
 */
export async function discriminatorToStateDict(p: DiscriminatorParams<string>, s?: DiscriminatorState): Promise<StateDict> {
  const out: StateDict = new Map();
  const conv = async (i: number, c: Conv2dParams<string>): Promise<void> => {
    out.set(`main.${i}.weight`, await tensorToEntry(c.w, 'conv'));
    if (c.b !== undefined) out.set(`main.${i}.bias`, await tensorToEntry(c.b, 'same'));
  };
  await conv(0, p.convIn);
  for (const [k, layer] of p.layers.entries()) {
    const i = convIndex(k + 1), b = i + 1;
    await conv(i, layer.conv);
    out.set(`main.${b}.weight`, await tensorToEntry(layer.bn.w, 'same'));
    out.set(`main.${b}.bias`, await tensorToEntry(layer.bn.b, 'same'));
    const st = s?.bn[k];
    if (st !== undefined) {
      out.set(`main.${b}.running_mean`, await tensorToEntry(st.runningMean, 'same'));
      out.set(`main.${b}.running_var`, await tensorToEntry(st.runningVar, 'same'));
      out.set(`main.${b}.num_batches_tracked`, { dtype: 'I64', shape: [], data: [st.numBatchesTracked] });
    }
  }
  await conv(3 * p.layers.length + 2, p.convOut);
  return out;
}
