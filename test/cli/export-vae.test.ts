/** `repae export-vae`: the official bundle (safetensors), the diffusers directory, and its round trip through the diffusers loader. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend, type BackendName } from '../../src/backends/index.js';
import { dispose } from '../../src/core/scope.js';
import { loadDiffusersVae, loadVae } from '../../src/generate/models.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { vaeToStateDict } from '../../src/io/statedict/vae.js';
import { readSafetensorsFile } from '../../src/io/tensors.js';
import { testBackends } from '../helpers/backends.js';
import { TINY_BIAS, TINY_SCALE, writeTinyRun } from '../generate/tiny-run.js';
import { repae } from './run-cli.js';

const backend = (testBackends.includes('wasm') ? 'wasm' : testBackends[0]) as BackendName;
const tmp = mkdtempSync(join(tmpdir(), 'repae-cli-export-'));
let run = '';
beforeAll(async () => {
  await useBackend(backend);
  run = await writeTinyRun(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.runIf(testBackends.length > 0)(`repae export-vae [${backend}]`, () => {
  it('writes the save_vae_weights.py bundle and a diffusers directory that loads back to the same VAE', async () => {
    const save = join(tmp, 'exps');
    const r = await repae('export-vae', '--run', run, '--save-dir', save, '--vae-name', 'e2e-tiny');
    expect(r.code).toBe(0);
    const dir = join(save, 'e2e-tiny'), hf = join(save, 'e2e-tiny-hf');
    for (const f of ['e2e-tiny.safetensors', 'e2e-tiny-latents-stats.safetensors', 'e2e-tiny-discriminator-ckpt.safetensors']) expect(existsSync(join(dir, f)), f).toBe(true);
    for (const f of ['config.json', 'diffusion_pytorch_model.safetensors', 'latents_stats.safetensors']) expect(existsSync(join(hf, f)), f).toBe(true);

    const ck = loadCheckpoint(join(run, 'checkpoints', '0000100'));
    // the bundle: the checkpoint's vae and disc sections verbatim, stats from the EMA BN ([1, C, 1, 1])
    const bundle = readSafetensorsFile(join(dir, 'e2e-tiny.safetensors'));
    expect([...bundle.entries.keys()]).toEqual([...ck.sections['vae']!.entries.keys()]);
    const disc = readSafetensorsFile(join(dir, 'e2e-tiny-discriminator-ckpt.safetensors'));
    expect([...disc.entries.keys()]).toEqual([...ck.sections['disc']!.entries.keys()]);
    const stats = readSafetensorsFile(join(dir, 'e2e-tiny-latents-stats.safetensors')).entries;
    expect(stats.get('latents_scale')?.shape).toEqual([1, 4, 1, 1]);
    expect(Array.from(stats.get('latents_scale')!.data)).toBeAllclose(TINY_SCALE, 1e-6);
    expect(Array.from(stats.get('latents_bias')!.data)).toBeAllclose(TINY_BIAS, 1e-6);

    // diffusers: config + renamed weights; the loader gives back the same official state dict and stats
    const cfg = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg['_class_name']).toBe('AutoencoderKL');
    expect(cfg['block_out_channels']).toEqual([32, 64]);
    expect(cfg['latents_mean']).toEqual(TINY_BIAS.map(Math.fround));
    const keys = [...readSafetensorsFile(join(hf, 'diffusion_pytorch_model.safetensors')).entries.keys()];
    expect(keys).toContain('decoder.up_blocks.0.resnets.0.conv1.weight');
    expect(keys).toContain('encoder.mid_block.attentions.0.to_q.weight');
    const loaded = loadDiffusersVae(hf);
    expect(loaded.cfg.chMult).toEqual([1, 2]);
    expect(Array.from(loaded.stats!.scale)).toBeAllclose(TINY_SCALE, 1e-6);
    const back = await vaeToStateDict(loaded.params);
    const orig = ck.sections['vae']!.entries;
    expect([...back.keys()].sort()).toEqual([...orig.keys()].sort());
    for (const [k, e] of orig) {
      expect(back.get(k)?.shape, k).toEqual(e.shape);
      expect(Array.from(back.get(k)!.data), k).toEqual(Array.from(e.data));
    }
    // the official-layout bundle loads too (its sibling stats file is picked up)
    const off = loadVae(join(dir, 'e2e-tiny.safetensors'));
    expect(Array.from(off.stats!.bias)).toBeAllclose(TINY_BIAS, 1e-6);
    dispose([loaded.params, off.params]);
  });

  it('prints --help and names a missing run', async () => {
    const h = await repae('export-vae', '--help');
    expect(h.out).toContain('<save-dir>/<name>/<name>-latents-stats.safetensors');
    const r = await repae('export-vae', '--run', join(tmp, 'none'));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(tmp, 'none')}: no such run or checkpoint directory`);
    const u = await repae('export-vae', '--save-dir', tmp);
    expect(u.code).toBe(2);
    expect(u.err).toContain('missing --run DIR');
  });
});
