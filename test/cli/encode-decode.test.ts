/** `repae encode` (images → latents safetensors + PCA PNG) and `repae decode` (latents → PNG grid / npz / PNGs). */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend, type BackendName } from '../../src/backends/index.js';
import { readNpz } from '../../src/io/npz.js';
import { decodePng } from '../../src/io/png.js';
import { readSafetensorsFile } from '../../src/io/tensors.js';
import { testBackends } from '../helpers/backends.js';
import { TINY_SCALE, writeTinyRun } from '../generate/tiny-run.js';
import { repae } from './run-cli.js';

const backend = (testBackends.includes('wasm') ? 'wasm' : testBackends[0]) as BackendName;
const tmp = mkdtempSync(join(tmpdir(), 'repae-cli-codec-'));
let run = '';
beforeAll(async () => {
  await useBackend(backend);
  run = await writeTinyRun(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.runIf(testBackends.length > 0)(`repae encode / decode [${backend}]`, () => {
  it('encodes images to NHWC latents with labels and stats, and writes the latent PCA image', async () => {
    const out = join(tmp, 'lat.safetensors'), pca = join(tmp, 'pca.png');
    const r = await repae('encode', '--run', run, '--data', 'builtin:shapes:6', '--resolution', '16', '--out', out, '--pca', pca, '--pca-count', '4', '--batch-size', '4', '--backend', backend);
    expect(r.code, r.err).toBe(0);
    const st = readSafetensorsFile(out);
    expect(st.entries.get('latents')?.shape).toEqual([6, 8, 8, 4]);
    expect(Array.from(st.entries.get('labels')!.data)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(st.entries.get('latents_scale')?.shape).toEqual([1, 4, 1, 1]);
    expect(Array.from(st.entries.get('latents_scale')!.data)).toBeAllclose(TINY_SCALE, 1e-6);
    expect(st.metadata).toMatchObject({ layout: 'NHWC', mode: 'mean', normalized: 'false' });
    const img = decodePng(new Uint8Array(readFileSync(pca)));
    // 4 latents of 8×8 upsampled ×2 (the VAE's factor) = 16 px, 2 per row, pad 2
    expect([img.width, img.height]).toEqual([2 * 18 + 2, 2 * 18 + 2]);
  });

  it('decodes raw and normalised latents back to images', async () => {
    const raw = join(tmp, 'lat.safetensors');
    let r = await repae('decode', '--latents', raw, '--run', run, '--npz', join(tmp, 'dec.npz'), '--png-dir', join(tmp, 'pngs'), '--backend', backend);
    expect(r.code, r.err).toBe(0);
    const grid = decodePng(new Uint8Array(readFileSync(join(tmp, 'lat.png'))));
    expect([grid.width, grid.height]).toEqual([3 * 18 + 2, 2 * 18 + 2]);
    const a = readNpz(new Uint8Array(readFileSync(join(tmp, 'dec.npz')))).get('arr_0');
    expect(a?.shape).toEqual([6, 16, 16, 3]);
    expect(readdirSync(join(tmp, 'pngs')).sort()).toEqual(['000000.png', '000001.png', '000002.png', '000003.png', '000004.png', '000005.png']);

    // normalised latents (metadata normalized=true) decode to the same images
    const norm = join(tmp, 'norm.safetensors');
    r = await repae('encode', '--run', run, '--data', 'builtin:shapes:6', '--resolution', '16', '--out', norm, '--normalize', '--backend', backend);
    expect(r.code, r.err).toBe(0);
    expect(readSafetensorsFile(norm).metadata['normalized']).toBe('true');
    r = await repae('decode', '--latents', norm, '--run', run, '--npz', join(tmp, 'dec2.npz'), '--backend', backend);
    expect(r.code, r.err).toBe(0);
    const b = readNpz(new Uint8Array(readFileSync(join(tmp, 'dec2.npz')))).get('arr_0');
    let maxDiff = 0;
    for (let i = 0; i < (a?.data.length ?? 0); i++) maxDiff = Math.max(maxDiff, Math.abs((a!.data[i] as number) - (b!.data[i] as number)));
    expect(maxDiff).toBeLessThanOrEqual(1); // float32 round trip of (z − bias)·scale may flip a truncation
  });

  it('names the bad flag, file or key', async () => {
    let r = await repae('encode', '--run', run, '--data', 'builtin:shapes:2', '--out', join(tmp, 'x.bin'));
    expect([r.code, r.err]).toEqual([2, expect.stringContaining("--out must name a .safetensors file, got '")]);
    r = await repae('encode', '--run', run, '--data', join(tmp, 'no-such-folder'), '--out', join(tmp, 'y.safetensors'), '--backend', backend);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(tmp, 'no-such-folder')}: no such image folder, archive or .npz`);
    // the default output <latents>.png exists from the test above: refused, never overwritten
    r = await repae('decode', '--latents', join(tmp, 'lat.safetensors'), '--key', 'zz', '--run', run, '--backend', backend);
    expect([r.code, r.err]).toEqual([1, expect.stringMatching(/--out '.*lat\.png' already exists; pass --force/)]);
    r = await repae('decode', '--latents', join(tmp, 'lat.safetensors'), '--key', 'zz', '--run', run, '--out', join(tmp, 'k.png'), '--backend', backend);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no entry 'zz' \(has: latents, labels, latents_scale, latents_bias\)/);
    r = await repae('decode', '--latents', join(tmp, 'lat.safetensors'), '--layout', 'nchw', '--run', run, '--out', join(tmp, 'k.png'), '--backend', backend);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/has 8 channels \(layout nchw\), the VAE takes 4; check --layout/);
    r = await repae('encode', '--help');
    expect(r.out).toContain('--pca FILE.png');
    expect(existsSync(join(tmp, 'y.safetensors'))).toBe(false);
  });
});
