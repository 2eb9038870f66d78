/**
 * @file The benchmark cases: one REPA-E step (`repaeStep`) at a tiny and a small configuration, a
 * 1024² matmul, and one SiT-S/2 block forward + backward (hidden 384, 256 tokens, batch 8). Each
 * case builds its inputs on the active backend, runs one repetition per `run()` (synchronised by a
 * host read), and frees everything in `dispose()`.
 */
import { defineRegistry } from '../core/grad.js';
import type { Registry } from '../core/groups.js';
import { matMul, mean, read, square, tensor } from '../core/ops/index.js';
import { fold, key as rngKey, normal, normalArray, uniformArray, type Key } from '../core/rng.js';
import { dispose } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { tensorsIn } from '../core/tree.js';
import { initDiscriminator, initDiscriminatorState } from '../models/discriminator.js';
import { initLpipsScaling, LPIPS_CHANNELS } from '../models/lpips.js';
import { proceduralVgg16 } from '../models/lpips-procedural.js';
import { sitTokens } from '../models/sit/config.js';
import { sitBlock } from '../models/sit/forward.js';
import type { SitBlockParams } from '../models/sit/params.js';
import { initSit, latentBnFromStats } from '../models/sit/params.js';
import { initVae } from '../models/vae/params.js';
import { initAttention } from '../nn/attention.js';
import { initLinear } from '../nn/linear.js';
import { initMlp } from '../nn/mlp.js';
import { setupRun } from '../train/run.js';
import { initRepaeOpt, readMetrics, repaeStep, type RepaeBatch, type RepaeState } from '../repae/step.js';
import { decodeRunConfig, type RunConfig } from '../train/config.js';
import { emaInit } from '../optim/ema.js';

/** A prepared benchmark case on the active backend. @category utility types */
export interface BenchCase {
  /** Runs one repetition to completion (the result is read back to the host). */
  readonly run: () => Promise<void>;
  /** Frees the case's tensors. */
  readonly dispose: () => void;
}

/** A benchmark: stable name, what it measures, work per repetition, and how to prepare it. @category utility types */
export interface BenchSpec {
  readonly name: string;
  readonly description: string;
  /** Floating-point operations per repetition, when known (for GFLOP/s). */
  readonly flops?: number;
  /** Samples (images / sequences) per repetition, for throughput. */
  readonly items?: number;
  /** Too slow for a default run on slow backends (pure-JS cpu, software WebGPU); see `skipHeavy`. */
  readonly heavy?: boolean;
  readonly prepare: () => Promise<BenchCase>;
}

/** A REPA-E step configuration for the benchmark: run-config overrides, batch size, encoder width. @category utility types */
export interface StepBenchConfig {
  readonly name: string;
  readonly run: Partial<RunConfig>;
  readonly batch: number;
  readonly encoderDim: number;
}

/**
 * The tiny step: the default `repae train` sizes — 32 px, batch 4, VAE ch 32 × [1, 1, 2] (f4, E 4,
 * 8×8 latents), SiT depth 4 / width 64 / 4 heads / p2 (16 tokens), encoder width 32, PatchGAN
 * ndf 8 × 2 layers, LPIPS on a VGG16 with procedural weights.
 * @category utility types
 */
export const TINY_STEP: StepBenchConfig = {
  name: 'repae-step-tiny',
  run: { resolution: 32, vaeCh: 32, vaeChMult: [1, 1, 2], vaeEmbedDim: 4, sitDepth: 4, sitHidden: 64, sitHeads: 4, patchSize: 2, encoderDepth: 2, projectorDim: 128, discNdf: 8, discLayers: 2, numClasses: 10 },
  batch: 4,
  encoderDim: 32,
};

/**
 * The small step: 32 px, batch 8, the same VAE, SiT depth 6 / width 384 (SiT-S width) / 6 heads /
 * p2 (16 tokens), encoder width 384, PatchGAN ndf 16 × 3 layers, LPIPS on a VGG16 with procedural
 * weights. (64 px with a wider VAE peaks above 2 GB of wasm memory and aborts there.)
 * @category utility types
 */
export const SMALL_STEP: StepBenchConfig = {
  name: 'repae-step-small',
  run: { resolution: 32, vaeCh: 32, vaeChMult: [1, 1, 2], vaeEmbedDim: 4, sitDepth: 6, sitHidden: 384, sitHeads: 6, patchSize: 2, encoderDepth: 4, projectorDim: 512, discNdf: 16, discLayers: 3, numClasses: 10 },
  batch: 8,
  encoderDim: 384,
};

/**
 * The 64 px step: 64 px, batch 4, VAE ch 32 × [1, 1, 2] (f4, 16×16 latents), SiT depth 4 / width 64
 * / 4 heads / p2 (64 tokens), encoder width 32 — the shape `../shared/perf/README.md` times as
 * `step-64px`.
 * @category utility types
 */
export const STEP_64PX: StepBenchConfig = {
  name: 'repae-step-64px',
  run: { resolution: 64, vaeCh: 32, vaeChMult: [1, 1, 2], vaeEmbedDim: 4, sitDepth: 4, sitHidden: 64, sitHeads: 4, patchSize: 2, encoderDepth: 2, projectorDim: 128, discNdf: 8, discLayers: 2, numClasses: 10 },
  batch: 4,
  encoderDim: 32,
};

/** Describes a step configuration in one line. @category utility types */
export function describeStep(c: StepBenchConfig): string {
  const r = decodeRunConfig(c.run, c.name);
  const setup = setupRun(r, c.encoderDim);
  return `one repaeStep (VAE + disc + SiT updates, EMA): ${r.resolution} px, batch ${c.batch}, VAE ch ${r.vaeCh}×[${r.vaeChMult.join(', ')}] E${r.vaeEmbedDim}, ` +
    `SiT depth ${r.sitDepth}/width ${r.sitHidden}/${r.sitHeads} heads/p${r.patchSize} (${sitTokens(setup.sit)} tokens), enc dim ${c.encoderDim}, ` +
    `disc ndf ${r.discNdf}×${r.discLayers}, LPIPS VGG16 (procedural weights)`;
}

/** A REPA-E step case: random-init models (`initSit`, `initVae`, `initDiscriminator`), `initRepaeOpt`, `emaInit`, a random batch. @category utility types */
export function stepCase(c: StepBenchConfig): BenchSpec {
  return {
    name: c.name,
    description: describeStep(c),
    items: c.batch,
    heavy: true,
    async prepare() {
      const r = decodeRunConfig(c.run, c.name);
      const setup = setupRun(r, c.encoderDim);
      const k = rngKey(1234);
      const w = initSit(fold(k, 1), setup.sit);
      dispose(w.bn);
      const bn = latentBnFromStats([1, 1, 1, 1].slice(0, setup.sit.inChannels), new Array<number>(setup.sit.inChannels).fill(0));
      const vae = initVae(fold(k, 2), setup.vae);
      const disc = initDiscriminator(fold(k, 3), setup.disc);
      const lpips = { net: proceduralVgg16(), lin: LPIPS_CHANNELS.map((ch) => tensor(new Float32Array(ch).fill(1 / ch), [1, 1, ch, 1])), ...initLpipsScaling() };
      const store = { sit: w.sit, proj: w.proj, vae, disc, lpips, enc: {} };
      let s: RepaeState = { store, opt: initRepaeOpt(setup.step, store), bn, discState: initDiscriminatorState(setup.disc), ema: emaInit({ sit: w.sit, proj: w.proj, bn }), step: 0 };
      const n = c.batch, res = r.resolution, tokens = sitTokens(setup.sit);
      const batch: RepaeBatch = {
        x: tensor(Float32Array.from(uniformArray(fold(k, 4), n * res * res * 3), (u) => 2 * u - 1), [n, res, res, 3]),
        y: tensor(Int32Array.from({ length: n }, (_, i) => i % r.numClasses), [n], 'int32'),
        zs: [tensor(Float32Array.from(normalArray(fold(k, 5), n * tokens * c.encoderDim)), [n, tokens, c.encoderDim])],
      };
      let i = 0;
      return {
        async run() {
          const [next, m] = repaeStep(setup.step, s, batch, fold(k, 100 + i++));
          s = next;
          await readMetrics(m);
        },
        dispose() {
          dispose([s, batch]);
        },
      };
    },
  };
}

/** `C = A·B` for random `A, B: [n, n]` (default 1024): 2n³ flops. @category utility types */
export function matmulCase(n = 1024): BenchSpec {
  return {
    name: `matmul-${n}`,
    description: `${n}×${n} · ${n}×${n} float32 matMul`,
    flops: 2 * n ** 3,
    async prepare() {
      const a = normal(rngKey(1), [n, n]), b = normal(rngKey(2), [n, n]);
      return {
        async run() {
          const c = matMul(a, b);
          try {
            await read(c);
          } finally {
            dispose(c);
          }
        },
        dispose: () => dispose([a, b]),
      };
    },
  };
}

interface BlockFamilies extends Registry {
  readonly Frozen: never;
  readonly block: SitBlockParams<this['G']>;
}

/**
 * One SiT block (adaLN-Zero, attention + MLP) forward and backward w.r.t. its parameters through
 * the project's `valueAndGrad`: SiT-S/2 width 384, 6 heads, MLP 1536, 256 tokens, batch 8, loss
 * `mean(block(x)²)`. adaLN is random (not zero) so every path carries gradient.
 * @category utility types
 */
export function sitBlockCase(opts: { readonly hidden?: number; readonly heads?: number; readonly tokens?: number; readonly batch?: number } = {}): BenchSpec {
  const d = opts.hidden ?? 384, heads = opts.heads ?? 6, t = opts.tokens ?? 256, n = opts.batch ?? 8;
  // forward ≈ 2·n·t·(12 d²) (qkv, proj, MLP 4d) + 4·n·t²·d (attention) + adaLN; backward ≈ 2× forward.
  const fwd = 2 * n * t * 12 * d * d + 4 * n * t * t * d + 2 * n * 6 * d * d;
  return {
    name: 'sit-s2-block',
    heavy: true,
    description: `one SiT-S/2 block forward + backward (hidden ${d}, ${heads} heads, ${t} tokens, batch ${n}) via valueAndGrad`,
    flops: 3 * fwd,
    items: n,
    async prepare() {
      const k: Key = rngKey(7);
      const reg = defineRegistry<BlockFamilies>({ groups: ['block'], frozen: [] });
      const blockLoss = reg.loss('block', 'block', (v, b: { readonly x: T<never>; readonly c: T<never> }) => [mean(square(sitBlock(v.block, b.x, b.c, heads))), {}] as const);
      const vg = reg.valueAndGrad(blockLoss, 'block');
      const params: SitBlockParams<never> = {
        attn: initAttention(fold(k, 0), { dim: d, numHeads: heads, qkNorm: false }),
        mlp: initMlp(fold(k, 1), d, 4 * d),
        adaLN: initLinear(fold(k, 2), d, 6 * d),
      };
      const store = { block: params };
      const x = normal(fold(k, 3), [n, t, d]), c = normal(fold(k, 4), [n, d]);
      return {
        async run() {
          const [value, grads] = vg(store, { x, c });
          try {
            await read(value);
            for (const g of tensorsIn(grads)) await read(g);
          } finally {
            dispose([value, grads]);
          }
        },
        dispose: () => dispose([params, x, c]),
      };
    },
  };
}

/** The default cases, in run order. @category utility types */
export const defaultCases = (): BenchSpec[] => [stepCase(TINY_STEP), stepCase(SMALL_STEP), stepCase(STEP_64PX), matmulCase(1024), sitBlockCase()];
