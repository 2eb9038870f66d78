/** `repae eval`: VAE metrics, Fréchet distance / precision-recall on MobileNet features, CKNNA, the table and the JSON. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend, type BackendName } from '../../src/backends/index.js';
import { metricsTable } from '../../src/cli/cmd-eval.js';
import { sampleMetrics } from '../../src/generate/evaluate.js';
import { testBackends } from '../helpers/backends.js';
import { sharedData, sharedDataOr } from '../data/shared-data.js';
import { writeTinyRun } from '../generate/tiny-run.js';
import { repae } from './run-cli.js';

const backend = (testBackends.includes('wasm') ? 'wasm' : testBackends[0]) as BackendName;
const tmp = mkdtempSync(join(tmpdir(), 'repae-cli-eval-'));
let run = '';
beforeAll(async () => {
  await useBackend(backend);
  run = await writeTinyRun(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.runIf(testBackends.length > 0)(`repae eval [${backend}]`, () => {
  it('computes the VAE metrics of a run over a dataset, prints a table and writes JSON', async () => {
    const json = join(tmp, 'vae.json');
    const r = await repae('eval', '--run', run, '--data', 'builtin:shapes:8', '--resolution', '16', '--json', json, '--backend', backend);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^metric\s+value\s+n\s+notes$/m);
    for (const m of ['latent_sv', 'latent_tv', 'latent_sv_normalized', 'latent_tv_normalized', 'recon_psnr', 'recon_ssim']) expect(r.out).toMatch(new RegExp(`^${m}\\s+\\S+\\s+8\\s`, 'm'));
    const j = JSON.parse(readFileSync(json, 'utf8')) as { metrics: Record<string, number>; models: { step: number } };
    expect(j.models.step).toBe(100);
    expect(j.metrics['latent_sv']).toBeGreaterThan(0);
    expect(j.metrics['recon_ssim']).toBeLessThanOrEqual(1);
    expect(Number.isFinite(j.metrics['recon_psnr'])).toBe(true);
  });

  it('names what an explicitly requested metric is missing, and unknown metrics', async () => {
    let r = await repae('eval', '--run', run, '--metrics', 'fd', '--backend', backend);
    expect(r.code).toBe(2);
    expect(r.err).toContain("metric 'fd' needs --ref PATH and --encoder-dir DIR");
    r = await repae('eval', '--metrics', 'fid', '--samples', 'x.npz');
    expect(r.code).toBe(2);
    expect(r.err).toContain("--metrics: unknown metric 'fid' (choose from fd, pr, vae, cknna)");
    r = await repae('eval', '--samples', 'x.npz');
    expect(r.code).toBe(2);
    expect(r.err).toContain('nothing to evaluate');
    r = await repae('eval', '--samples', join(tmp, 'missing.npz'), '--ref', 'builtin:shapes:8', '--encoder-dir', join(tmp, 'no-model'), '--backend', backend);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--encoder-dir: ${join(tmp, 'no-model', 'model.json')} does not exist`);
  });

  it('Fréchet distance is 0 and precision/recall 1 for identical feature sets', async () => {
    const f = { data: Float32Array.from({ length: 40 }, (_, i) => Math.sin(i * 1.7) + (i % 4)), shape: [10, 4] };
    const m = await sampleMetrics(f, f);
    expect(m.frechetDistance).toBeCloseTo(0, 6);
    expect([m.precision, m.recall]).toEqual([1, 1]);
    expect(metricsTable([{ metric: 'fd', value: 1.5, n: '2/3', note: 'x' }])).toBe('metric   value  n    notes\n------  ------  ---  -----\nfd      1.5000  2/3  x');
  });

  it('prints --help listing every metric and input', async () => {
    const r = await repae('eval', '--help');
    for (const s of ['fd ', 'pr ', 'vae ', 'cknna ', '--samples FILE.npz', '--ref PATH', '--encoder-dir DIR', '--data PATH', '--json FILE']) expect(r.out).toContain(s);
  });
});

describe.runIf(testBackends.length > 0 && sharedDataOr('repae eval with MobileNet'))(`repae eval with MobileNet-v1 [${backend}]`, () => {
  const enc = join(sharedData, 'mobilenet-v1-0.75');
  it('samples a run, then Fréchet distance and precision/recall vs a reference, and CKNNA', async () => {
    const json = join(tmp, 'all.json');
    const r = await repae('eval', '--run', run, '--num-samples', '8', '--batch-size', '4', '--num-steps', '2', '--ref', 'builtin:shapes:12', '--data', 'builtin:shapes:10',
      '--encoder-dir', enc, '--encoder-size', '96', '--cknna-topk', '5', '--json', json, '--backend', backend);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(readFileSync(json, 'utf8')) as { metrics: Record<string, number>; samples: string };
    expect(existsSync(j.samples)).toBe(true);
    expect(j.metrics['fd_mobilenet']).toBeGreaterThan(0);
    for (const k of ['precision', 'recall']) expect(j.metrics[k]).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(j.metrics['cknna'])).toBe(true); // unbiased masked HSIC: not bounded by 1 for tiny n
    expect(r.out).toMatch(/^fd_mobilenet\s+\S+\s+8\/12\s+mobilenet-v1:conv_pw_13_relu\/avg \(768-d\)/m);
    // the reference against itself: distance ≈ 0
    const self = await repae('eval', '--samples', j.samples, '--ref', j.samples, '--encoder-dir', enc, '--encoder-size', '96', '--metrics', 'fd', '--json', join(tmp, 'self.json'), '--backend', backend);
    expect(self.code, self.err).toBe(0);
    const s = JSON.parse(readFileSync(join(tmp, 'self.json'), 'utf8')) as { metrics: Record<string, number> };
    expect(Math.abs(s.metrics['fd_mobilenet'] ?? NaN)).toBeLessThan(1e-3);
  });
});
