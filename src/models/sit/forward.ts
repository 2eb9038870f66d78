/** @file SiT forward passes: training forward with REPA projections, inference, features, and the official losses. */
import { cast, add, mul, silu, square, where, less } from '../../core/ops/elementwise.js';
import { oneHot, tensor } from '../../core/ops/create.js';
import { matMul } from '../../core/ops/linalg.js';
import { reshape, split, transpose } from '../../core/ops/shape.js';
import { uniform, type Key } from '../../core/rng.js';
import { tidy } from '../../core/scope.js';
import { type T } from '../../core/tensor.js';
import { attention } from '../../nn/attention.js';
import { type Mode } from '../../nn/batch-norm.js';
import { layerNorm } from '../../nn/layer-norm.js';
import { linear } from '../../nn/linear.js';
import { mlp } from '../../nn/mlp.js';
import { SIT_FREQ_DIM, SIT_LN_EPS, type SitConfig } from './config.js';
import { timestepEmbedding } from './embed.js';
import { type FinalLayerParams, type LabelEmbedderParams, type ProjParams, type Projectors, type SitBlockParams, type SitParams, type TimestepEmbedderParams } from './params.js';

// ------------------------------------------------------------------------------------------------
// Building blocks
// ------------------------------------------------------------------------------------------------

/**
 * Cuts NHWC latents into flattened non-overlapping patches: `[N, H, W, C]` → `[N, T, p·p·C]`,
 * tokens row-major (`n = i·(W/p) + j`), each patch in `(p_row, p_col, c)` order. For `p = 1` this
 * is a reshape; otherwise one transpose of the (small) latent tensor.
 * @category layers
 */
export const patchify = <G extends string>(x: T<G>, p: number): T<G> =>
  tidy(() => {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    if (h % p !== 0 || w % p !== 0) throw new RangeError(`patchify: spatial size ${h}×${w} is not divisible by patch ${p}`);
    if (p === 1) return reshape(x, [n, h * w, c]);
    const a = reshape(x, [n, h / p, p, w / p, p, c]);
    return reshape(transpose(a, [0, 1, 3, 2, 4, 5]), [n, (h / p) * (w / p), p * p * c]);
  });

/**
 * Inverse of {@link patchify}: `[N, T, p·p·C]` (per token `(p_row, p_col, c)`) → `[N, H, W, C]`
 * with `H = W = p·√T`. Official: `SiT.unpatchify` (`einsum nhwpqc->nchpwq`, here NHWC).
 * @category layers
 */
export const unpatchify = <G extends string>(x: T<G>, p: number, channels: number): T<G> =>
  tidy(() => {
    const [n, t] = x.shape as [number, number, number];
    const g = Math.round(Math.sqrt(t));
    if (g * g !== t) throw new RangeError(`unpatchify: ${t} tokens do not form a square grid`);
    if (p === 1) return reshape(x, [n, g, g, channels]);
    const a = reshape(x, [n, g, g, p, p, channels]);
    return reshape(transpose(a, [0, 1, 3, 2, 4, 5]), [n, g * p, g * p, channels]);
  });

/** `x·(1 + scale) + shift`, broadcasting `[N, 1, D]` modulations over tokens (official `modulate`). @category layers */
export const modulate = <X extends string, S extends string>(x: T<X>, shift: T<S>, scale: T<S>): T<X | S> =>
  tidy(() => add(mul(x, add(scale, 1)), shift));

/** Splits an adaLN output `[N, k·D]` into `k` chunks `[N, 1, D]` (official `.chunk(k, dim=1)`). */
const chunks = <G extends string>(m: T<G>, k: number): T<G>[] => {
  const [n, kd] = m.shape as [number, number];
  return split(reshape(m, [n, k, kd / k]), k, 1);
};

/**
 * The timestep embedder: sinusoidal features of `t: [N]` (cos first, raw `t ∈ [0,1]`), then
 * `Linear → SiLU → Linear` → `[N, D]`. Official: `TimestepEmbedder.forward`.
 * @category layers
 */
export const timestepEmbedder = <G extends string, X extends string>(p: TimestepEmbedderParams<G>, t: T<X>): T<G | X> =>
  tidy(() => linear(p.fc2, silu(linear(p.fc1, timestepEmbedding(reshape(t, [-1]), SIT_FREQ_DIM)))));

/**
 * The label embedder: rows of the table for int32 labels `y: [N]` → `[N, D]`, computed as a
 * one-hot product (differentiable on every backend; exact). When `dropMask` (boolean `[N]`) is
 * given, the masked labels become the null class `numClasses` first. Out-of-range labels give a
 * zero row. Official: `LabelEmbedder.forward` (`token_drop` with `drop_ids = rand < p`).
 * @category layers
 */
export const labelEmbedder = <G extends string>(p: LabelEmbedderParams<G>, y: T<never>, numClasses: number, dropMask?: T<never>): T<G> =>
  tidy(() => {
    const rows = p.table.shape[0] as number;
    const n = y.shape[0] as number;
    const labels = dropMask === undefined ? cast(y, 'int32') : where(dropMask, tensor(new Int32Array(n).fill(numClasses), [n], 'int32'), cast(y, 'int32'));
    return matMul(cast(oneHot(labels, rows), 'float32'), p.table);
  });

/**
 * The label-dropout mask `rand < p` for an injected uniform `[N]` tensor (official
 * `torch.rand(B) < dropout_prob` in `LabelEmbedder.token_drop`).
 * @category layers
 */
export const labelDropMask = (rand: T<never>, prob: number): T<never> => less(rand, prob);

/**
 * One adaLN-Zero SiT block on `x: [N, T, D]` given `siluC = SiLU(c): [N, D]`:
 * `x += gate_msa·attn(modulate(LN(x), shift_msa, scale_msa))`,
 * `x += gate_mlp·mlp(modulate(LN(x), shift_mlp, scale_mlp))`. Official: `SiTBlock.forward`.
 * @category layers
 */
export const sitBlock = <G extends string, X extends string>(p: SitBlockParams<G>, x: T<X>, siluC: T<X>, numHeads: number): T<G | X> =>
  tidy(() => {
    const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = chunks(linear(p.adaLN, siluC), 6) as [
      T<G | X>, T<G | X>, T<G | X>, T<G | X>, T<G | X>, T<G | X>,
    ];
    const h = add(x, mul(gateMsa, attention(p.attn, modulate(layerNorm(x, SIT_LN_EPS), shiftMsa, scaleMsa), numHeads)));
    return add(h, mul(gateMlp, mlp(p.mlp, modulate(layerNorm(h, SIT_LN_EPS), shiftMlp, scaleMlp))));
  });

/**
 * The final layer on `x: [N, T, D]`: `linear(modulate(LN(x), shift, scale))` → `[N, T, p·p·C]`.
 * Official: `FinalLayer.forward`.
 * @category layers
 */
export const finalLayer = <G extends string, X extends string>(p: FinalLayerParams<G>, x: T<X>, siluC: T<X>): T<G | X> =>
  tidy(() => {
    const [shift, scale] = chunks(linear(p.adaLN, siluC), 2) as [T<G | X>, T<G | X>];
    return linear(p.linear, modulate(layerNorm(x, SIT_LN_EPS), shift, scale));
  });

/**
 * A REPA projector applied token-wise: `[N, T, D]` → `[N, T, z_dim]`
 * (`Linear → SiLU → Linear → SiLU → Linear`). Official: `build_mlp` in `models/sit.py`.
 * @category layers
 */
export const projector = <P extends string, X extends string>(p: ProjParams<P>, h: T<X>): T<P | X> =>
  tidy(() => linear(p.fc3, silu(linear(p.fc2, silu(linear(p.fc1, h))))));

// ------------------------------------------------------------------------------------------------
// Forward passes
// ------------------------------------------------------------------------------------------------

/**
 * Options of {@link sitForward}.
 * @category models
 */
export interface SitForwardOptions {
  readonly cfg: SitConfig;
  /** `'train'` applies label dropout (needs `labelDropRand` or `key` when `classDropoutProb > 0`); default `'eval'`. */
  readonly mode?: Mode;
  /** Injected uniform `[N]` for label dropout (official `torch.rand(B)` in `token_drop`). */
  readonly labelDropRand?: T<never>;
  /** Key to draw `labelDropRand` from when it is not given. */
  readonly key?: Key;
  /** Stop after block `encoderDepth` (the final layer still runs on that state, as officially). */
  readonly alignOnly?: boolean;
  /** Also return the intermediate activations (see {@link SitTrace}). */
  readonly trace?: boolean;
}

/**
 * Intermediate activations of a forward (the golden fixture's `trace.train.*`): patch embedding
 * before `pos_embed` `[N, T, D]`, timestep and label embeddings `[N, D]`, every block output
 * `[N, T, D]`, final-layer output `[N, T, p·p·C]`.
 * @category models
 */
export interface SitTrace<G extends string> {
  readonly xEmbedderOut: T<G>;
  readonly tEmbedderOut: T<G>;
  readonly yEmbedderOut: T<G>;
  readonly blocks: readonly T<G>[];
  readonly finalLayerOut: T<G>;
}

/**
 * Result of {@link sitForward}: the predicted velocity `[N, H, W, C]` (depends on the backbone
 * and inputs) and the projector outputs `zsTilde[k]: [N, T, z_dim_k]` (also on the projectors).
 * @category models
 */
export interface SitForwardResult<O extends string, Z extends string> {
  readonly output: T<O>;
  readonly zsTilde: readonly T<Z>[];
  readonly trace?: SitTrace<Z>;
}

/** Checks the latent input shape against the config. */
/** Checks that `x` is `[N, H, W, C]` latents of the configured size, naming `what` in the error. @category utility types */
export function checkLatents(x: T<string>, cfg: SitConfig, what: string): void {
  const s = x.shape;
  if (s.length !== 4 || s[1] !== cfg.inputSize || s[2] !== cfg.inputSize || s[3] !== cfg.inChannels)
    throw new RangeError(
      `${what}: expected NHWC latents [N, ${cfg.inputSize}, ${cfg.inputSize}, ${cfg.inChannels}], got [${s.join(', ')}]`,
    );
}

/** The label-dropout mask for a train-mode forward, or undefined when no dropout applies. */
function dropMaskFor(n: number, cfg: SitConfig, opts: SitForwardOptions): T<never> | undefined {
  if ((opts.mode ?? 'eval') !== 'train' || cfg.classDropoutProb <= 0) return undefined;
  let rand = opts.labelDropRand;
  if (rand === undefined) {
    if (opts.key === undefined)
      throw new Error('sitForward: train mode with classDropoutProb > 0 needs opts.labelDropRand (uniform [N]) or opts.key');
    rand = uniform(opts.key, [n]);
  }
  if (rand.shape.length !== 1 || rand.shape[0] !== n) throw new RangeError(`sitForward: labelDropRand must be [${n}], got [${rand.shape.join(', ')}]`);
  return labelDropMask(rand, cfg.classDropoutProb);
}

/**
 * The SiT forward on model inputs (no BatchNorm): `xt: [N, H, W, C]` (normalised-latent space),
 * `t: [N]` or `[N, 1, 1, 1]` in [0, 1], int32 labels `y: [N]`. Returns the velocity
 * `[N, H, W, C]` and, for every projector in `proj`, `zsTilde[k] = proj_k(h_encoderDepth)`.
 * With `alignOnly` the blocks stop after `encoderDepth` and the final layer runs on that state
 * (its output is then not a prediction, exactly as officially). Official: steps 4–6 of
 * `SiT.forward`.
 *
 * The result's groups are those of its inputs: the output depends on `params`, `xt` and `t`;
 * `zsTilde` additionally on `proj` (a separate group, `'proj'`).
 *
 * @example
 * const { output, zsTilde } = sitForward(view.sit, view.proj, xt, t, y, { cfg, mode: 'train', labelDropRand })
 * @category models
 */
export function sitForward<G extends string, P extends string, X extends string, U extends string>(
  params: SitParams<G>,
  proj: Projectors<P>,
  xt: T<X>,
  t: T<U>,
  y: T<never>,
  opts: SitForwardOptions,
): SitForwardResult<G | X | U, G | P | X | U> {
  const cfg = opts.cfg;
  checkLatents(xt, cfg, 'sitForward');
  return tidy(() => {
    const n = xt.shape[0] as number;
    if (params.blocks.length !== cfg.depth) throw new RangeError(`sitForward: params have ${params.blocks.length} blocks, config depth ${cfg.depth}`);
    if (t.size !== n) throw new RangeError(`sitForward: t must have ${n} entries ([N] or [N,1,1,1]), got [${t.shape.join(', ')}]`);
    if (y.shape.length !== 1 || y.shape[0] !== n) throw new RangeError(`sitForward: y must be [${n}], got [${y.shape.join(', ')}]`);
    const xe = linear(params.xEmbedder, patchify(xt, cfg.patchSize));
    let h: T<G | X | U> = add(xe, params.posEmbed);
    const te = timestepEmbedder(params.tEmbedder, t);
    const ye = labelEmbedder(params.yEmbedder, y, cfg.numClasses, dropMaskFor(n, cfg, opts));
    const siluC = silu(add(te, ye));
    const blocks: T<G | X | U>[] = [];
    let zsTilde: T<G | P | X | U>[] = [];
    for (let i = 0; i < cfg.depth; i++) {
      h = sitBlock(params.blocks[i] as SitBlockParams<G>, h, siluC, cfg.numHeads);
      if (opts.trace === true) blocks.push(h);
      if (i + 1 === cfg.encoderDepth) {
        const hk = h;
        zsTilde = proj.map((p) => projector(p, hk));
        if (opts.alignOnly === true) break;
      }
    }
    const fl = finalLayer(params.finalLayer, h, siluC);
    const output = unpatchify(fl, cfg.patchSize, cfg.inChannels);
    const res: SitForwardResult<G | X | U, G | P | X | U> = { output, zsTilde };
    return opts.trace === true
      ? { ...res, trace: { xEmbedderOut: xe, tEmbedderOut: te, yEmbedderOut: ye, blocks, finalLayerOut: fl } }
      : res;
  });
}

/**
 * The SiT velocity for sampling: eval mode, no BatchNorm (`x` is already in normalised-latent
 * space), no projectors. `x: [N, H, W, C]`, `t: [N]`, int32 `y: [N]` → `[N, H, W, C]`.
 * Official: `SiT.inference(x, t, y)` (under `torch.no_grad`).
 *
 * @example
 * const v = sitInference(ema.sit, xt, t, y, cfg)
 * @category models
 */
export const sitInference = <G extends string, X extends string, U extends string>(
  params: SitParams<G>,
  x: T<X>,
  t: T<U>,
  y: T<never>,
  cfg: SitConfig,
): T<G | X | U> => sitForward(params, [], x, t, y, { cfg, mode: 'eval', alignOnly: false }).output;

/**
 * The hidden tokens `[N, T, D]` after block `depth` (1-based, default `encoderDepth`), eval mode,
 * no BatchNorm: the SiT trunk that feeds the REPA projectors (and CKNNA). Official:
 * `SiT.forward_feats(x, t, y, depth)`.
 *
 * @example
 * const h = sitTrunk(params, xt, t, y, cfg)        // [N, 256, 1152]
 * const z = projector(proj[0], h)
 * @category models
 */
export function sitTrunk<G extends string, X extends string, U extends string>(
  params: SitParams<G>,
  x: T<X>,
  t: T<U>,
  y: T<never>,
  cfg: SitConfig,
  depth: number = cfg.encoderDepth,
): T<G | X | U> {
  if (!Number.isInteger(depth) || depth < 1 || depth > cfg.depth) throw new RangeError(`sitTrunk: depth must be in 1..${cfg.depth}, got ${depth}`);
  checkLatents(x, cfg, 'sitTrunk');
  return tidy(() => {
    let h: T<G | X | U> = add(linear(params.xEmbedder, patchify(x, cfg.patchSize)), params.posEmbed);
    const siluC = silu(add(timestepEmbedder(params.tEmbedder, t), labelEmbedder(params.yEmbedder, y, cfg.numClasses)));
    for (let i = 0; i < depth; i++) h = sitBlock(params.blocks[i] as SitBlockParams<G>, h, siluC, cfg.numHeads);
    return h;
  });
}

// ------------------------------------------------------------------------------------------------
// Losses (the official SiT.forward)
// ------------------------------------------------------------------------------------------------
