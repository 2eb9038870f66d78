import { constant, toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { key } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { leaves, tensorsIn } from '../../src/core/tree.js';
import { readSafetensors, writeSafetensors, type SafeEntry } from '../../src/io/safetensors.js';
import {
  sitConfigFromKwargs, sitFromStateDict, sitKeySpecs, sitParamCount, sitStateDictShapes, sitToStateDict,
} from '../../src/io/statedict/sit.js';
import { StateDictError } from '../../src/io/statedict/entries.js';
import { customSitConfig, sitConfig, type SitConfig } from '../../src/models/sit/config.js';
import { sincosPosEmbedArray, timestepEmbedding } from '../../src/models/sit/embed.js';
import { patchify, projector, sitForward, sitInference, sitTrunk, unpatchify } from '../../src/models/sit/forward.js';
import { sitLosses } from '../../src/losses/diffusion.js';
import { initSit, latentBnFromStats, type SitWeights } from '../../src/models/sit/params.js';
import { describeEachBackend } from '../helpers/backends.js';

const tiny: SitConfig = customSitConfig({
  depth: 3, hiddenSize: 32, numHeads: 4, patchSize: 2, inputSize: 8, inChannels: 4,
  encoderDepth: 2, zDims: [16, 8], projectorDim: 24, numClasses: 10, qkNorm: true,
});

/** Distinct live tensors of a result. */
const count = (x: unknown): number => new Set(tensorsIn(x)).size;
/** Parameter leaves (backbone + projectors) in a deterministic order, then the BN buffers. */
const paramLeaves = (w: SitWeights): tf.Tensor[] => [...leaves({ sit: w.sit, proj: w.proj }), w.bn.runningMean, w.bn.runningVar].map(toTensor);

const rand = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1, 'float32', seed);

describe('SiT configs and parameter counts (shape-only)', () => {
  it('matches the spec table (§2.1) without allocating', () => {
    const b2 = sitParamCount(sitConfig('SiT-B/2'));
    expect(b2).toEqual({ total: 137_845_008, proj: 7_344_896, posEmbed: 196_608, entries: 141 });
    expect(sitParamCount(sitConfig('SiT-L/2')).total).toBe(465_955_600);
    expect(sitParamCount(sitConfig('SiT-L/2')).proj).toBe(7_869_184);
    expect(sitParamCount(sitConfig('SiT-XL/2')).total).toBe(683_242_512);
    expect(sitParamCount(sitConfig('SiT-XL/2')).proj).toBe(8_131_328);
    expect(sitParamCount(sitConfig('SiT-XL/1', { inChannels: 32, inputSize: 16 })).total).toBe(683_279_392);
  });

  it('lists the official SiT-B/2 keys and shapes (§2.9)', () => {
    const s = sitStateDictShapes(sitConfig('SiT-B/2'));
    expect(s.size).toBe(141);
    expect(s.get('pos_embed')).toEqual([1, 256, 768]);
    expect(s.get('x_embedder.proj.weight')).toEqual([768, 4, 2, 2]);
    expect(s.get('y_embedder.embedding_table.weight')).toEqual([1001, 768]);
    expect(s.get('blocks.11.adaLN_modulation.1.weight')).toEqual([4608, 768]);
    expect(s.get('projectors.0.4.weight')).toEqual([768, 2048]);
    expect(s.get('final_layer.linear.weight')).toEqual([16, 768]);
    expect(s.get('bn.num_batches_tracked')).toEqual([]);
    expect([...s.keys()][0]).toBe('pos_embed');
    const q = sitStateDictShapes(sitConfig('SiT-B/2', { qkNorm: true, zDims: [768, 1024] }));
    expect(q.get('blocks.0.attn.q_norm.weight')).toEqual([64]);
    expect(q.get('blocks.0.attn.k_norm.bias')).toEqual([64]);
    expect(q.get('projectors.1.4.weight')).toEqual([1024, 2048]);
    expect(q.size).toBe(141 + 48 + 6);
  });

  it('parses official kwargs and rejects the broken SiT-S decoder width', () => {
    const cfg = sitConfigFromKwargs({ input_size: 8, patch_size: 2, hidden_size: 64, decoder_hidden_size: 64, depth: 4, num_heads: 4, encoder_depth: 2, z_dims: [32], qk_norm: false, fused_attn: false });
    expect(cfg.hiddenSize).toBe(64);
    expect(() => sitConfigFromKwargs({ hidden_size: 384, num_heads: 6, depth: 12 })).toThrow(/decoder_hidden_size 768 ≠ hidden_size 384/);
    expect(sitConfig('SiT-S/2').hiddenSize).toBe(384);
    expect(() => sitConfig('SiT-B/2', { encoderDepth: 13 })).toThrow(/encoderDepth 13 exceeds depth 12/);
  });
});

describe('SiT fixed embeddings', () => {
  it('pos_embed[0, 0] = [0…, 1…, 0…, 1…] and the column index fills the first half', () => {
    const d = 64, g = 4, q = d / 4;
    const pe = sincosPosEmbedArray(d, g);
    expect(Array.from(pe.subarray(0, d))).toEqual([...Array(q).fill(0), ...Array(q).fill(1), ...Array(q).fill(0), ...Array(q).fill(1)]);
    const i = 1, j = 2, row = pe.subarray((i * g + j) * d, (i * g + j + 1) * d);
    expect(row[0]).toBeCloseTo(Math.sin(j), 6);
    expect(row[q]).toBeCloseTo(Math.cos(j), 6);
    expect(row[2 * q]).toBeCloseTo(Math.sin(i), 6);
    expect(row[3 * q + 1]).toBeCloseTo(Math.cos(i * 10000 ** (-1 / q)), 6);
  });
});

describeEachBackend('SiT model', (backend) => {
  it('timestep embedding at t = 0 is 128 ones then 128 zeros (cos first)', async () => {
    const t = constant(tf.zeros([2]));
    const e = timestepEmbedding(t, 256);
    const v = Array.from(await e.data());
    expect(v.slice(0, 128).every((x) => x === 1)).toBe(true);
    expect(v.slice(128, 256).every((x) => x === 0)).toBe(true);
    dispose([t, e]);
  });

  it('patchify / unpatchify are inverse (p = 2 and p = 1)', async () => {
    const x = constant(rand([2, 8, 8, 4], 1));
    for (const p of [1, 2]) {
      const tok = patchify(x, p);
      expect(tok.shape).toEqual([2, 64 / (p * p), 4 * p * p]);
      const back = unpatchify(tok, p, 4);
      expect(Array.from(await back.data())).toEqual(Array.from(await x.data()));
      dispose([tok, back]);
    }
    dispose(x);
  });

  it('a fresh SiT outputs exactly zero, blocks are identities, and forwards do not leak', async () => {
    const w = initSit(key(3), tiny);
    const x = constant(rand([2, 8, 8, 4], 2));
    const t = constant(tf.tensor([0.3, 0.8]));
    const y = constant(tf.tensor([1, 10], [2], 'int32'));
    const zs = [rand([2, 16, 16], 3), rand([2, 16, 8], 4)].map(constant);
    const before = tf.memory().numTensors;
    const f = sitForward(w.sit, w.proj, x, t, y, { cfg: tiny, trace: true });
    expect(tf.memory().numTensors - before).toBe(count(f));
    expect(f.output.shape).toEqual([2, 8, 8, 4]);
    expect((await f.output.data()).every((v) => v === 0)).toBe(true);
    // Zero gates: every block returns its input, so zs_tilde = projector(x_embedder(x) + pos_embed).
    const h0 = constant(tf.add(toTensor(f.trace!.xEmbedderOut), toTensor(w.sit.posEmbed)));
    const z0 = projector(w.proj[0]!, h0);
    expect(await f.zsTilde[0]!.data()).toBeAllclose(await z0.data(), 1e-6);
    expect((await f.zsTilde[0]!.data()).some((v) => v !== 0)).toBe(true);
    dispose([f, h0, z0]);

    const n1 = tf.memory().numTensors;
    const inf = sitInference(w.sit, x, t, y, tiny);
    expect(tf.memory().numTensors - n1).toBe(1);
    const h = sitTrunk(w.sit, x, t, y, tiny);
    expect(h.shape).toEqual([2, 16, 32]);
    expect(tf.memory().numTensors - n1).toBe(2);
    dispose([inf, h]);

    const n2 = tf.memory().numTensors;
    const r = sitLosses(w, { x, y, zs }, { cfg: tiny, mode: 'train', key: key(9) });
    expect(tf.memory().numTensors - n2).toBe(count(r));
    expect(r.bn.numBatchesTracked).toBe(1);
    // With a zero output the denoising loss is mean(target²) per sample.
    const tgt = await r.target.data(), dl = await r.denoisingLoss!.data();
    const per = tgt.length / 2;
    for (let i = 0; i < 2; i++) {
      let s = 0;
      for (let j = i * per; j < (i + 1) * per; j++) s += (tgt[j] as number) ** 2;
      expect(dl[i]).toBeCloseTo(s / per, 4);
    }
    const pl = (await r.projLoss.data())[0] as number;
    expect(Math.abs(pl)).toBeLessThanOrEqual(1);
    dispose(r);
    expect(() => sitLosses(w, { x, y, zs }, { cfg: tiny, mode: 'train', t, noise: x })).toThrow(/labelDropRand/);
    const small = constant(tf.zeros([2, 4, 4, 4]));
    expect(() => sitForward(w.sit, w.proj, small, t, y, { cfg: tiny })).toThrow(/expected NHWC latents \[N, 8, 8, 4\]/);
    small.dispose();
    expect(tf.memory().numTensors).toBe(n2);
    dispose([w, x, t, y, zs]);
  });

  it('round-trips a small config (qk-norm, two projectors) through the state dict and safetensors', async () => {
    const w = initSit(key(5), tiny);
    const w2: SitWeights = { ...w, bn: { ...latentBnFromStats([1, 2, 0.5, 4], [0.1, -0.2, 0.3, 0]), numBatchesTracked: 7 } };
    dispose(w.bn);
    const sd = await sitToStateDict(w2, tiny);
    expect([...sd.keys()]).toEqual(sitKeySpecs(tiny).map((s) => s.key));
    const file = readSafetensors(writeSafetensors(sd), 'tiny.safetensors');
    const back = sitFromStateDict(file.entries, tiny);
    expect(back.bn.numBatchesTracked).toBe(7);
    const a = paramLeaves(w2), b = paramLeaves(back);
    expect(b.length).toBe(a.length);
    for (let i = 0; i < a.length; i++) expect(Array.from(await b[i]!.data())).toEqual(Array.from(await a[i]!.data()));
    // Conv layout: official [D, C, p, p][d, c, a, b] = ours [D, p·p·C][d, (a·p + b)·C + c].
    const conv = file.entries.get('x_embedder.proj.weight')!;
    const ours = await w2.sit.xEmbedder.w.data();
    expect(conv.data[((3 * 4 + 2) * 2 + 1) * 2 + 0]).toBe(ours[3 * 16 + (1 * 2 + 0) * 4 + 2]);
    dispose([w2, back]);
  });

  it('names the missing key, the unexpected key and both shapes on a mismatch; strips module. prefixes', async () => {
    const w = initSit(key(6), tiny);
    const sd = new Map<string, SafeEntry>([...(await sitToStateDict(w, tiny))].map(([k, e]) => [k, { ...e, data: Float32Array.from(e.data) }]));
    dispose(w);
    const missing = new Map(sd);
    missing.delete('blocks.1.attn.qkv.weight');
    expect(() => sitFromStateDict(missing, tiny, { source: 'ckpt.safetensors' })).toThrow(
      /state dict 'ckpt.safetensors'.*missing key 'blocks.1.attn.qkv.weight' \(expected shape \[96, 32\]\)/,
    );
    const wrong = new Map(sd);
    wrong.set('final_layer.linear.weight', { dtype: 'F32', shape: [8, 32], data: new Float32Array(256) });
    expect(() => sitFromStateDict(wrong, tiny)).toThrow(StateDictError);
    try {
      sitFromStateDict(wrong, tiny);
    } catch (e) {
      expect(e).toMatchObject({ key: 'final_layer.linear.weight', expected: [16, 32], actual: [8, 32] });
    }
    expect(() => sitFromStateDict(wrong, tiny)).toThrow(/key 'final_layer.linear.weight' has shape \[8, 32\], expected \[16, 32\]/);
    const extra = new Map(sd);
    extra.set('blocks.9.mlp.fc1.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    expect(() => sitFromStateDict(extra, tiny)).toThrow(/unexpected key 'blocks.9.mlp.fc1.weight' \(shape \[1\]\)/);
    const ok = sitFromStateDict(extra, tiny, { ignoreUnexpected: true });
    const wrapped = new Map([...sd].map(([k, e]) => [`module._orig_mod.${k}`, e]));
    const ok2 = sitFromStateDict(wrapped, tiny);
    expect(paramLeaves(ok2).length).toBe(paramLeaves(ok).length);
    dispose([ok, ok2]);
  });

  if (backend === 'cpu') it('instantiates SiT-S/2 for real and round-trips it through safetensors', async () => {
    const cfg = sitConfig('SiT-S/2');
    const before = tf.memory().numTensors;
    const w = initSit(key(7), cfg);
    const n = leaves({ sit: w.sit, proj: w.proj }).reduce((a, t) => a + t.size, 0);
    expect(n).toBe(sitParamCount(cfg).total);
    const bytes = writeSafetensors(await sitToStateDict(w, cfg));
    const back = sitFromStateDict(readSafetensors(bytes).entries, cfg);
    const a = paramLeaves(w), b = paramLeaves(back);
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!.dataSync(), y = b[i]!.dataSync();
      expect(y.length).toBe(x.length);
      let same = true;
      for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) { same = false; break; }
      expect(same).toBe(true);
    }
    dispose([w, back]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
