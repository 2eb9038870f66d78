/**
 * `npm run web` offers the latest local run: the dev/preview server's `repae-run/` routes
 * (web/vite.config.ts) pick the newest complete checkpoint under $REPAE_RUNS_DIR, and one click on
 * the page loads its VAE and EMA SiT (with the run's config and latent statistics) and shows a
 * reconstruction and samples.
 */
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { key } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { sitToStateDict } from '../../src/io/statedict/sit.js';
import { vaeToStateDict } from '../../src/io/statedict/vae.js';
import { customSitConfig } from '../../src/models/sit/config.js';
import { initSit } from '../../src/models/sit/params.js';
import { initVae, vaeConfig } from '../../src/models/vae/index.js';
import { defaultRunConfig } from '../../src/train/config.js';
import type {} from '../../web/main.js';
import { chromiumPath, haveChromium, inCI, launchChromium, startWebServer, type WebServer } from './harness.js';

const runs = mkdtempSync(join(tmpdir(), 'repae-runs-'));
const RUN = { ...defaultRunConfig, resolution: 16, vaeCh: 32, vaeChMult: [1, 2], vaeEmbedDim: 4, model: 'custom', sitDepth: 2, sitHidden: 32, sitHeads: 2, patchSize: 2, encoderDepth: 1, projectorDim: 16, numClasses: 10 };
const SIT = customSitConfig({ depth: 2, hiddenSize: 32, numHeads: 2, patchSize: 2, inputSize: 8, inChannels: 4, encoderDepth: 1, zDims: [8], projectorDim: 16, numClasses: 10 });

/** Writes run `name` with one complete checkpoint at `step`, its COMPLETE marker dated `when`. */
async function writeRun(name: string, step: number, when: Date): Promise<void> {
  const vae = initVae(key(1), vaeConfig({ embedDim: 4, ch: 32, chMult: [1, 2], numResBlocks: 1, attnResolutions: [] }));
  const sit = initSit(key(2), SIT);
  const ck = saveCheckpoint(join(runs, name), step, { ema: await sitToStateDict(sit, SIT), vae: await vaeToStateDict(vae) }, { config: RUN });
  utimesSync(join(ck.path, 'COMPLETE'), when, when);
  dispose([vae, sit]);
}

const missing = !haveChromium ? `Chromium not found at ${chromiumPath}` : undefined;
if (missing !== undefined && inCI) throw new Error(missing);

describe.skipIf(missing !== undefined)('web page: the latest local run in one click', () => {
  let server: WebServer;
  let close: () => Promise<void>;
  let page: Page;
  beforeAll(async () => {
    await useBackend('cpu');
    await writeRun('older', 40, new Date(Date.now() - 3600_000));
    await writeRun('demo', 7, new Date());
    process.env['REPAE_RUNS_DIR'] = runs;
    server = await startWebServer([]);
    const b = await launchChromium();
    close = b.close;
    page = await b.context.newPage();
  }, 300_000);
  afterAll(async () => {
    await close?.();
    await server?.close();
    delete process.env['REPAE_RUNS_DIR'];
    rmSync(runs, { recursive: true, force: true });
  });

  it('offers the newest run and shows its reconstruction and samples after one click', async () => {
    const latest = (await (await fetch(`${server.url}repae-run/latest.json`)).json()) as { name: string; step: number; sit: string };
    expect(latest).toMatchObject({ name: 'demo', step: 7, sit: 'ema' });
    expect((await fetch(`${server.url}repae-run/disc.safetensors`)).status).toBe(404);
    process.env['REPAE_RUNS_DIR'] = join(runs, 'missing');
    expect(await (await fetch(`${server.url}repae-run/latest.json`)).json()).toEqual({ none: `${join(runs, 'missing')} does not exist (run npm start first)` });
    process.env['REPAE_RUNS_DIR'] = runs;
    await page.goto(`${server.url}?backend=wasm`);
    await page.waitForFunction(() => window.repaeDemo?.ready === true && !window.repaeDemo.busy, undefined, { timeout: 120_000 });
    expect(await page.locator('#open-run').textContent()).toBe('Open the latest run: demo, step 7');
    const jobs = await page.evaluate(() => window.repaeDemo.jobs);
    await page.click('#open-run');
    await page.waitForFunction((n) => window.repaeDemo.jobs >= n + 3 && !window.repaeDemo.busy, jobs, { timeout: 240_000, polling: 200 });
    const h = await page.evaluate(() => ({ ...window.repaeDemo, last: window.repaeDemo.last === undefined ? undefined : window.repaeDemo.last.latentShape }));
    expect(h.error).toBeUndefined();
    expect(h.vae).toContain('demo/vae.safetensors: official AutoencoderKL');
    expect(h.sit).toContain('demo/ema.safetensors: SiT (2 blocks, D=32, p=2, 8×8×4 latents, 10 classes)');
    expect(h.last).toEqual([8, 8, 4]);
    expect(h.samples).toBe(8);
    expect(await page.locator('#samples canvas').count()).toBe(8);
  }, 300_000);
});
