import { constant } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { key } from '../../src/core/rng.js';
import { dispose, numTensors } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { leaves } from '../../src/core/tree.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { countValues, StateDictError } from '../../src/io/statedict/entries.js';
import {
  diffusersToOfficialVaeKey,
  diffusersVaeConfig,
  officialToDiffusersVaeKey,
  vaeConfigFromDiffusers,
  vaeStateDictFromDiffusers,
  vaeStateDictToDiffusers,
} from '../../src/io/statedict/diffusers-vae.js';
import { vaeConfigFromStateDict, vaeFromStateDict, vaeStateDictSpec, vaeToStateDict } from '../../src/io/statedict/vae.js';
import {
  F16D32,
  F8D4,
  initVae,
  posteriorFromMoments,
  posteriorKl,
  posteriorMode,
  posteriorSample,
  vaeConfig,
  vaeDecode,
  vaeEncode,
  vaeForward,
  type VaeConfig,
} from '../../src/models/vae/index.js';
import { describeEachBackend, testBackends } from '../helpers/backends.js';

/** The narrow golden structure (fixture C). */
const NARROW = vaeConfig({ embedDim: 4, ch: 32, chMult: [1, 1, 1, 2] });
/** A narrow structure with attention inside the last level (like f16d32: nominal 64 px, attention at 16). */
const NARROW_ATTN = vaeConfig({ embedDim: 8, ch: 32, chMult: [1, 1, 2], resolution: 64, attnResolutions: [16] });
const c = (x: tf.Tensor): T<never> => constant(x);
const numel = (p: unknown): number => leaves(p).reduce((a, t) => a + t.size, 0);
const ioBackend = testBackends.find((b) => b === 'cpu' || b === 'wasm') ?? testBackends[0];

describe('VAE configs and official state-dict spec', () => {
  it('f8d4: 248 entries, 83,653,863 parameters; f16d32: 342 entries, 69,836,067 parameters', () => {
    for (const [cfg, n, count] of [[F8D4, 248, 83_653_863], [F16D32, 342, 69_836_067]] as const) {
      const spec = vaeStateDictSpec(cfg);
      expect(spec.length).toBe(n);
      expect(spec.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0)).toBe(count);
    }
    const keys = vaeStateDictSpec(F8D4).map((e) => e.key);
    expect(keys[0]).toBe('encoder.conv_in.weight');
    expect(keys).toContain('encoder.down.1.block.0.nin_shortcut.weight');
    expect(keys).toContain('decoder.up.3.upsample.conv.bias');
    expect(keys.at(-1)).toBe('post_quant_conv.bias');
    const f16 = vaeStateDictSpec(F16D32).map((e) => e.key);
    expect(f16).toContain('encoder.down.4.attn.1.proj_out.weight');
    expect(f16).toContain('decoder.up.4.attn.2.q.weight');
    expect(f16.filter((k) => k.includes('.attn.'))).toHaveLength((2 + 3) * 10);
  });
});

describeEachBackend('VAE forward (narrow)', () => {
  it('encode / sample / decode shapes, no leaked tensors, key-determinism', async () => {
    const start = numTensors();
    const p = initVae(key(0), NARROW);
    expect(numel(p)).toBe(vaeStateDictSpec(NARROW).reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0));
    const x = c(tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 1));
    const before = numTensors();
    const r = vaeForward(p, x, { key: key(5) });
    const resultTensors = new Set(leaves(r)).size;
    expect(numTensors()).toBe(before + resultTensors);
    expect(r.z.shape).toEqual([1, 2, 2, 4]);
    expect(r.posterior.moments.shape).toEqual([1, 2, 2, 8]);
    expect(r.xHat.shape).toEqual([1, 16, 16, 3]);
    const r2 = vaeForward(p, x, { key: key(5) });
    expect(await r2.z.data()).toBeAllclose(await r.z.data(), 0);
    const post = vaeEncode(p, x);
    expect(await posteriorMode(post).data()).toBeAllclose(await r.posterior.mean.data(), 1e-6);
    const dec = vaeDecode(p, r.z);
    expect(await dec.data()).toBeAllclose(await r.xHat.data(), 1e-5);
    dispose([p, x, r, r2, post, dec]);
    expect(numTensors()).toBe(start);
  });

  it('a structure with attention inside a level runs (f16d32-style)', async () => {
    const p = initVae(key(1), NARROW_ATTN);
    expect(p.encoder.down[2]?.attn).toHaveLength(2);
    expect(p.decoder.up[2]?.attn).toHaveLength(3);
    expect(p.encoder.down[1]?.attn).toHaveLength(0);
    const x = c(tf.randomUniform([1, 8, 8, 3], -1, 1, 'float32', 2));
    const before = numTensors();
    const r = vaeForward(p, x, { eps: c(tf.zeros([1, 2, 2, 8])) });
    expect(r.xHat.shape).toEqual([1, 8, 8, 3]);
    expect(await r.z.data()).toBeAllclose(await r.posterior.mean.data(), 1e-6);
    dispose(r);
    expect(numTensors()).toBe(before + 1); // the injected eps
    dispose([p, x]);
  });

  it('posterior: logvar clamp [-30, 20], std, var, KL = 0.5·Σ(mean² + var − 1 − logvar)', async () => {
    // moments [1, 1, 1, 4]: mean (0.5, -1), logvar (-40 → -30, 1)
    const m = c(tf.tensor4d([0.5, -1, -40, 1], [1, 1, 1, 4]));
    const post = posteriorFromMoments(m);
    expect(Array.from(await post.logvar.data())).toEqual([-30, 1]);
    expect(await post.std.data()).toBeAllclose([Math.exp(-15), Math.exp(0.5)], 1e-6);
    const kl = posteriorKl(post);
    const ref = 0.5 * (0.25 + Math.exp(-30) - 1 + 30 + (1 + Math.E - 1 - 1));
    expect(await kl.data()).toBeAllclose([ref], 1e-6);
    const s = posteriorSample(post, { eps: c(tf.tensor4d([1, 2], [1, 1, 1, 2])) });
    expect(await s.data()).toBeAllclose([0.5 + Math.exp(-15), -1 + 2 * Math.exp(0.5)], 1e-6);
    expect(() => posteriorSample(post, { eps: c(tf.zeros([1, 1, 1, 3])) })).toThrow(/eps has shape \[1, 1, 1, 3\], expected \[1, 1, 1, 2\]/);
    dispose([m, post, kl, s]);
  });
});

describeEachBackend(
  'VAE state dicts',
  () => {
    it('narrow: toStateDict → safetensors → fromStateDict round trip is exact; config inferred from keys', async () => {
      const p = initVae(key(3), NARROW);
      const sd = await vaeToStateDict(p);
      expect([...sd.keys()]).toEqual(vaeStateDictSpec(NARROW).map((e) => e.key));
      expect(sd.get('encoder.conv_in.weight')?.shape).toEqual([32, 3, 3, 3]);
      const bytes = writeSafetensors(sd);
      const back = readSafetensors(bytes).entries;
      const cfg = vaeConfigFromStateDict(back);
      expect(vaeStateDictSpec(cfg)).toEqual(vaeStateDictSpec(NARROW));
      const before = numTensors();
      const p2 = vaeFromStateDict(back, cfg);
      expect(numTensors()).toBe(before + leaves(p2).length);
      const sd2 = await vaeToStateDict(p2);
      for (const [k, e] of sd) expect(Array.from(sd2.get(k)!.data), k).toEqual(Array.from(e.data));
      // the conv transposes really transpose: PyTorch [out, in, kh, kw][o,i,y,x] == ours [kh, kw, in, out][y,x,i,o]
      const w = await p.encoder.convIn.w.data();
      const torch = sd.get('encoder.conv_in.weight')!.data;
      expect(torch[((5 * 3 + 2) * 3 + 1) * 3 + 0]).toBe(w[((1 * 3 + 0) * 3 + 2) * 32 + 5]);
      dispose([p, p2]);
    });

    it('errors name the key and both shapes; strict rejects unexpected keys; nothing leaks on error', async () => {
      const p = initVae(key(4), NARROW);
      const sd = await vaeToStateDict(p);
      dispose(p);
      const before = numTensors();
      const missing = new Map(sd);
      missing.delete('decoder.mid.attn_1.k.weight');
      expect(() => vaeFromStateDict(missing, NARROW)).toThrow(StateDictError);
      expect(() => vaeFromStateDict(missing, NARROW)).toThrow("vae state dict: missing key 'decoder.mid.attn_1.k.weight' (expected shape [64, 64, 1, 1])");
      const wrong = new Map(sd);
      wrong.set('encoder.conv_in.weight', { dtype: 'F32', shape: [16, 3, 3, 3], data: new Float32Array(16 * 27) });
      expect(() => vaeFromStateDict(wrong, NARROW)).toThrow("vae state dict: key 'encoder.conv_in.weight' has shape [16, 3, 3, 3], expected [32, 3, 3, 3]");
      const extra = new Map(sd);
      extra.set('encoder.bogus.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) });
      expect(() => vaeFromStateDict(extra, NARROW)).toThrow("vae state dict: unexpected key 'encoder.bogus.weight' with shape [2]");
      expect(numTensors()).toBe(before);
      const ok = vaeFromStateDict(extra, NARROW, { strict: false });
      dispose(ok);
      const prefixed = new Map([...sd].map(([k, e]) => [`init.vae.${k}`, e] as const));
      const fromPrefix = vaeFromStateDict(prefixed, NARROW, { prefix: 'init.vae.' });
      dispose(fromPrefix);
      expect(numTensors()).toBe(before);
    });

    it('f8d4 full size: a real init has 83,653,863 parameters and 248 entries, and survives a safetensors round trip', async () => {
      const p = initVae(key(7), F8D4);
      expect(numel(p)).toBe(83_653_863);
      const sd = await vaeToStateDict(p);
      dispose(p);
      expect(sd.size).toBe(248);
      expect(countValues(sd)).toBe(83_653_863);
      expect([...sd].map(([k, e]) => [k, e.shape])).toEqual(vaeStateDictSpec(F8D4).map((e) => [e.key, e.shape]));
      const back = readSafetensors(writeSafetensors(sd)).entries;
      const p2 = vaeFromStateDict(back, vaeConfigFromStateDict(back));
      const sd2 = await vaeToStateDict(p2);
      dispose(p2);
      for (const [k, e] of sd) {
        const a = e.data as Float32Array, b = sd2.get(k)!.data as Float32Array;
        expect(b.length, k).toBe(a.length);
        let same = true;
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { same = false; break; }
        expect(same, k).toBe(true);
      }
    }, 300_000);
  },
  ioBackend === undefined ? [] : [ioBackend],
);

describe('diffusers AutoencoderKL mapping', () => {
  const cases: [string, VaeConfig][] = [['f8d4', F8D4], ['f16d32', F16D32], ['narrow+attn', NARROW_ATTN]];
  it.each(cases)('%s: the key map is a bijection over all official keys, and its inverse', (_n, cfg) => {
    const L = cfg.chMult.length;
    const official = vaeStateDictSpec(cfg).map((e) => e.key);
    const diff = official.map((k) => officialToDiffusersVaeKey(k, L));
    expect(new Set(diff).size).toBe(official.length);
    expect(diff.map((k) => diffusersToOfficialVaeKey(k, L))).toEqual(official);
    for (const k of diff) expect(k).not.toMatch(/\.(down|up|mid|block|attn_1|nin_shortcut|norm_out|proj_out)\./);
  });

  it('names follow the diffusers layout (reversed decoder levels, to_out.0, conv_shortcut, conv_norm_out)', () => {
    const m = (k: string): string => officialToDiffusersVaeKey(k, 4);
    expect(m('decoder.up.3.block.0.conv1.weight')).toBe('decoder.up_blocks.0.resnets.0.conv1.weight');
    expect(m('decoder.up.1.upsample.conv.bias')).toBe('decoder.up_blocks.2.upsamplers.0.conv.bias');
    expect(m('encoder.down.2.downsample.conv.weight')).toBe('encoder.down_blocks.2.downsamplers.0.conv.weight');
    expect(m('encoder.down.1.block.0.nin_shortcut.weight')).toBe('encoder.down_blocks.1.resnets.0.conv_shortcut.weight');
    expect(m('encoder.mid.attn_1.proj_out.weight')).toBe('encoder.mid_block.attentions.0.to_out.0.weight');
    expect(m('decoder.mid.attn_1.norm.bias')).toBe('decoder.mid_block.attentions.0.group_norm.bias');
    expect(m('decoder.mid.block_2.norm1.weight')).toBe('decoder.mid_block.resnets.1.norm1.weight');
    expect(m('encoder.norm_out.weight')).toBe('encoder.conv_norm_out.weight');
    expect(m('quant_conv.weight')).toBe('quant_conv.weight');
    expect(officialToDiffusersVaeKey('decoder.up.4.attn.2.q.weight', 5)).toBe('decoder.up_blocks.0.attentions.2.to_q.weight');
    expect(diffusersToOfficialVaeKey('encoder.mid_block.attentions.0.query.weight', 4)).toBe('encoder.mid.attn_1.q.weight');
    expect(diffusersToOfficialVaeKey('encoder.mid_block.attentions.0.proj_attn.bias', 4)).toBe('encoder.mid.attn_1.proj_out.bias');
    expect(() => officialToDiffusersVaeKey('encoder.down.9.block.0.conv1.weight', 4)).toThrow(/has no counterpart/);
    expect(() => diffusersToOfficialVaeKey('decoder.up_blocks.0.attentions.0.to_x.weight', 4)).toThrow(/'decoder.up_blocks.0.attentions.0.to_x.weight'/);
  });

  it('config.json round trip and block types', () => {
    for (const cfg of [F8D4, F16D32]) {
      const j = diffusersVaeConfig(cfg);
      const back = vaeConfigFromDiffusers(j);
      expect(vaeStateDictSpec(back)).toEqual(vaeStateDictSpec(cfg));
    }
    const j = diffusersVaeConfig(F16D32);
    expect(j['block_out_channels']).toEqual([128, 128, 256, 256, 512]);
    expect(j['down_block_types']).toEqual(['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'AttnDownEncoderBlock2D']);
    expect(j['up_block_types']).toEqual(['AttnUpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D']);
    expect(j['latent_channels']).toBe(32);
    expect(() => vaeConfigFromDiffusers({ ...diffusersVaeConfig(F8D4), act_fn: 'gelu' })).toThrow(/act_fn/);
  });

  it('state dicts convert both ways (attention projections [c,c,1,1] ↔ [c,c]) without changing values', () => {
    const spec = vaeStateDictSpec(NARROW_ATTN);
    const sd = new Map(spec.map((e, i) => [e.key, { dtype: 'F32' as const, shape: e.shape, data: Float32Array.from({ length: e.shape.reduce((a, b) => a * b, 1) }, (_, j) => i + j / 1e4) }]));
    const d = vaeStateDictToDiffusers(sd);
    expect(d.get('encoder.down_blocks.2.attentions.1.to_k.weight')?.shape).toEqual([64, 64]);
    expect(d.get('decoder.mid_block.attentions.0.to_out.0.weight')?.shape).toEqual([64, 64]);
    expect(d.get('decoder.mid_block.attentions.0.to_out.0.bias')?.shape).toEqual([64]);
    const back = vaeStateDictFromDiffusers(d);
    expect([...back.keys()]).toEqual([...sd.keys()]);
    for (const [k, e] of sd) {
      expect(back.get(k)?.shape, k).toEqual(e.shape);
      expect(back.get(k)?.data, k).toBe(e.data);
    }
  });
});
