/**
 * The web demo's checkpoint loaders (web/lib/models.ts) in Node on the cpu backend: VAE layout
 * detection (official, prefixed with extra keys, diffusers with and without config.json) and the
 * SiT configuration sources (kwargs, golden-fixture json, REPA-E args.json, missing projectors).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { read } from '../../src/core/ops/create.js';
import { key } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import { writeSafetensors, type SafeEntry, type SafeWriteEntry } from '../../src/io/safetensors.js';
import { diffusersVaeConfig, vaeStateDictToDiffusers } from '../../src/io/statedict/diffusers-vae.js';
import { sitToStateDict } from '../../src/io/statedict/sit.js';
import { vaeToStateDict } from '../../src/io/statedict/vae.js';
import { customSitConfig } from '../../src/models/sit/config.js';
import { initSit } from '../../src/models/sit/params.js';
import { initVae, vaeConfig } from '../../src/models/vae/index.js';
import { disposeModel, loadSit, loadVae, sitConfigFromJson } from '../../web/lib/models.js';

const VAE = vaeConfig({ embedDim: 4, ch: 32, chMult: [1, 2], numResBlocks: 1, attnResolutions: [] });
const SIT = customSitConfig({ depth: 2, hiddenSize: 64, numHeads: 4, patchSize: 2, inputSize: 8, inChannels: 4, encoderDepth: 1, zDims: [32], projectorDim: 128, numClasses: 10 });
const SIT_KWARGS = { input_size: 8, patch_size: 2, in_channels: 4, hidden_size: 64, decoder_hidden_size: 64, depth: 2, num_heads: 4, encoder_depth: 1, num_classes: 10, z_dims: [32], projector_dim: 128 };

const prefixed = (sd: ReadonlyMap<string, SafeWriteEntry>, prefix: string): Map<string, SafeWriteEntry> =>
  new Map([...sd].map(([k, v]) => [prefix + k, v]));

describe('web demo loaders', () => {
  beforeAll(() => useBackend('cpu'));

  it('detects an official VAE, a prefixed one with extra keys, and the diffusers layout with or without config.json', async () => {
    const params = initVae(key(3), VAE);
    const sd = await vaeToStateDict(params);
    const want = await read(params.decoder.convOut.w);
    const variants: [string, Uint8Array, Record<string, unknown> | undefined, RegExp][] = [
      ['official.safetensors', writeSafetensors(sd), undefined, /^official\.safetensors: official AutoencoderKL \(E=4, f=2, ch=32×\[1,2\], /],
      [
        'ckpt.safetensors',
        writeSafetensors(new Map([...prefixed(sd, 'vae.'), ['loss.logvar', { dtype: 'F32', shape: [], data: [0] }]])),
        undefined,
        /official AutoencoderKL under 'vae\.' .*; 1 other key ignored\)$/,
      ],
      ['diffusion_pytorch_model.safetensors', writeSafetensors(vaeStateDictToDiffusers(sd)), diffusersVaeConfig(VAE), /diffusers AutoencoderKL \+ config\.json/],
      ['diffusion_pytorch_model.safetensors', writeSafetensors(vaeStateDictToDiffusers(sd)), undefined, /diffusers AutoencoderKL \(config inferred from shapes\)/],
    ];
    for (const [file, bytes, json, label] of variants) {
      const m = loadVae(bytes, file, json);
      expect(m.label).toMatch(label);
      expect(m.cfg.chMult).toEqual([1, 2]);
      expect(await read(m.params.decoder.convOut.w)).toEqual(want);
      disposeModel(m);
    }
    expect(() => loadVae(writeSafetensors(new Map([['x', { dtype: 'F32', shape: [1], data: [1] }]])), 'other.safetensors')).toThrow(
      /other\.safetensors: no VAE weights found/,
    );
    dispose(params);
  });

  it('loads a SiT with kwargs, a fixture json or no projectors, and reads args.json sizes from the checkpoint', async () => {
    const w = initSit(key(4), SIT);
    const sd = await sitToStateDict(w, SIT);
    const table = await read(w.sit.yEmbedder.table);
    for (const [bytes, json] of [
      [writeSafetensors(prefixed(sd, 'ema.')), SIT_KWARGS],
      [writeSafetensors(sd), { config: { model: { kwargs: SIT_KWARGS } } }],
      [writeSafetensors(new Map([...sd].filter(([k]) => !k.startsWith('projectors.')))), SIT_KWARGS],
    ] as const) {
      const m = loadSit(bytes, 'sit.safetensors', json);
      expect(m.label).toMatch(/SiT \(2 blocks, D=64, p=2, 8×8×4 latents, 10 classes\)$/);
      expect(await read(m.weights.sit.yEmbedder.table)).toEqual(table);
      disposeModel(m);
    }
    // REPA-E args.json: official size by name; latent size, channels and classes from the weights' shapes.
    const shapes = new Map<string, SafeEntry>([
      ['x_embedder.proj.weight', { dtype: 'F32', shape: [1152, 32, 1, 1], data: new Float32Array(0) }],
      ['pos_embed', { dtype: 'F32', shape: [1, 256, 1152], data: new Float32Array(0) }],
      ['y_embedder.embedding_table.weight', { dtype: 'F32', shape: [1001, 1152], data: new Float32Array(0) }],
    ]);
    const cfg = sitConfigFromJson({ model: 'SiT-XL/1', encoder_depth: 8, qk_norm: false, cfg_prob: 0.1 }, shapes);
    expect([cfg.depth, cfg.hiddenSize, cfg.patchSize, cfg.inputSize, cfg.inChannels, cfg.numClasses]).toEqual([28, 1152, 1, 16, 32, 1000]);
    expect(() => sitConfigFromJson({ foo: 1 }, shapes)).toThrow(/expected SiT constructor kwargs/);
    dispose(w);
  });
});
