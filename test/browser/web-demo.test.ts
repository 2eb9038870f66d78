/**
 * The web demo (web/) in headless Chromium: WebGPU adapter, VAE round trip against Node, the SiT
 * golden fixture on WebGPU, sampling, the wasm fallback, and screenshots in test-artifacts/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { read, tensor } from '../../src/core/ops/create.js';
import { key } from '../../src/core/rng.js';
import { dispose, tidy } from '../../src/core/scope.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { vaeToStateDict } from '../../src/io/statedict/vae.js';
import { initVae, posteriorMode, vaeConfig, vaeDecode, vaeEncode } from '../../src/models/vae/index.js';
// The pages' `window.repaeDemo` / `window.repaeGolden` types (global augmentations).
import type {} from '../../web/main.js';
import type {} from '../../web/golden.js';
import { goldenDir, haveGolden } from '../helpers/golden.js';
import { chromiumPath, haveChromium, inCI, launchChromium, serveDir, startWebServer, type WebServer } from './harness.js';

const artifacts = resolve(import.meta.dirname, '..', '..', 'test-artifacts');
/** The fixed-weight VAE of the round-trip test: 4× downsampling, attention in level 1 and the mid block. */
const VAE_CFG = vaeConfig({ embedDim: 4, ch: 32, chMult: [1, 1, 2], numResBlocks: 1, attnResolutions: [128] });
const SIZE = 32;

/** A fixed 32×32 RGB test image: gradients plus a checker, no randomness. */
function fixedImage(): Uint8Array {
  const px = new Uint8Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++)
    for (let x = 0; x < SIZE; x++) {
      const i = 3 * (y * SIZE + x), check = ((x >> 3) + (y >> 3)) % 2;
      px[i] = 8 * x;
      px[i + 1] = (6 * y + 60 * check) & 255;
      px[i + 2] = 255 - 4 * (x + y);
    }
  return px;
}

function pngOf(rgb: Uint8Array, w: number, h: number): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    png.data[4 * i] = rgb[3 * i] as number;
    png.data[4 * i + 1] = rgb[3 * i + 1] as number;
    png.data[4 * i + 2] = rgb[3 * i + 2] as number;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** Waits until the demo page has finished every queued job and returns its handle's summary. */
async function idle(page: Page, jobs: number, timeout = 120_000): Promise<{ jobs: number; error?: string }> {
  await page.waitForFunction((n) => window.repaeDemo?.jobs >= n && !window.repaeDemo.busy, jobs, { timeout, polling: 100 });
  return page.evaluate(() => ({ jobs: window.repaeDemo.jobs, ...(window.repaeDemo.error === undefined ? {} : { error: window.repaeDemo.error }) }));
}

const missing = !haveChromium ? `Chromium not found at ${chromiumPath} (bash .ci/install-system.sh installs it)` : undefined;

describe.skipIf(missing !== undefined && !inCI)('web demo in Chromium', () => {
  let server: WebServer | undefined;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let tmp = '';
  /** Messages the pages logged as errors (shown when a test fails). */
  const pageErrors: string[] = [];

  const newPage = async (): Promise<Page> => {
    if (browser === undefined) throw new Error('Chromium did not start');
    const page = await browser.context.newPage();
    page.on('console', (m) => void (m.type() === 'error' && pageErrors.push(m.text())));
    page.on('pageerror', (e) => void pageErrors.push(e.message));
    return page;
  };

  beforeAll(async () => {
    if (missing !== undefined) throw new Error(`${missing}; CI must run the browser tests`);
    tmp = mkdtempSync(join(tmpdir(), 'repae-web-test-'));
    mkdirSync(artifacts, { recursive: true });
    const t0 = performance.now();
    [server, browser] = await Promise.all([startWebServer([serveDir('__golden', goldenDir)]), launchChromium()]);
    console.log(`[browser] vite build ${server.buildSeconds.toFixed(1)}s, server + Chromium ready in ${((performance.now() - t0) / 1000).toFixed(1)}s at ${server.url}`);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    if (pageErrors.length > 0) console.log(`[browser] page errors:\n  ${pageErrors.join('\n  ')}`);
  });

  let webgpu = false;
  let demo: Page | undefined;

  it('loads the page and reports the WebGPU adapter (SwiftShader)', async (ctx) => {
    const page = (demo = await newPage());
    await page.goto(server?.url ?? '');
    await page.waitForFunction(() => window.repaeDemo?.ready === true || window.repaeDemo?.error !== undefined, null, { timeout: 60_000 });
    const b = await page.evaluate(() => window.repaeDemo.backend);
    const line = await page.locator('#backend').innerText();
    console.log(`[browser] ${line}`);
    webgpu = b?.name === 'webgpu';
    if (!webgpu) {
      const why = `WebGPU is unavailable in Chromium (${b?.fallbackReason ?? 'no backend'}); the page fell back to ${b?.name ?? 'nothing'}`;
      if (inCI) throw new Error(`${why}. CI must provide WebGPU: Chromium with --enable-unsafe-webgpu (SwiftShader)`);
      return ctx.skip(`${why}; the WebGPU-only checks are skipped`);
    }
    expect(b?.name).toBe('webgpu');
    expect(line).toMatch(/WebGPU/);
    expect(line.toLowerCase()).toContain('swiftshader');
    expect(await page.locator('#backend-warning').isHidden()).toBe(true);
  });

  it('round-trips a fixed image through a fixed-weight VAE like Node does (cpu backend)', async () => {
    const page = demo ?? (await newPage());
    // Weights and image, written as the user would pick them.
    await useBackend('cpu');
    const params = initVae(key(7), VAE_CFG);
    const vaeFile = join(tmp, 'fixed-vae.safetensors');
    writeFileSync(vaeFile, writeSafetensors(await vaeToStateDict(params)));
    const rgb = fixedImage();
    const imageFile = join(tmp, 'fixed-image.png');
    writeFileSync(imageFile, pngOf(rgb, SIZE, SIZE));

    let jobs = (await idle(page, 0)).jobs;
    await page.setInputFiles('#vae-file', vaeFile);
    expect(await idle(page, ++jobs)).toEqual({ jobs });
    expect(await page.locator('#vae-label').innerText()).toMatch(/fixed-vae\.safetensors: official AutoencoderKL \(E=4, f=4/);
    await page.selectOption('#image-size', String(SIZE));
    const t0 = performance.now();
    await page.setInputFiles('#image-file', imageFile);
    expect(await idle(page, ++jobs)).toEqual({ jobs });
    console.log(`[browser] reconstruction on the page: ${((performance.now() - t0) / 1000).toFixed(1)}s (${await page.locator('#status').innerText()})`);
    const got = await page.evaluate(() => {
      const r = window.repaeDemo.last;
      return r === undefined ? undefined : { input: Array.from(r.input), latent: Array.from(r.latent), output: Array.from(r.output), shape: r.latentShape };
    });
    if (got === undefined) throw new Error('the page produced no reconstruction');
    expect(got.shape).toEqual([SIZE / 4, SIZE / 4, 4]);
    // The page decoded the PNG exactly (no resampling, no colour conversion).
    expect(got.input).toEqual(Array.from(Float32Array.from(rgb, (v) => v / 127.5 - 1)));

    const x = tensor(Float32Array.from(got.input), [1, SIZE, SIZE, 3]);
    const z = tidy(() => posteriorMode(vaeEncode(params, x)));
    const y = vaeDecode(params, z);
    const [zRef, yRef] = [await read(z), await read(y)];
    dispose([x, z, y, params]);
    expect(got.latent).toBeAllclose(zRef, 1e-3);
    expect(got.output).toBeAllclose(yRef, 1e-3);

    await page.screenshot({ path: join(artifacts, 'web-demo-reconstruction.png'), fullPage: true });
  }, 180_000);

  it('samples class-conditional images from a SiT checkpoint (the sit_p2 fixture) through the VAE', async (ctx) => {
    if (!haveGolden) return ctx.skip(`golden fixtures not found in ${goldenDir}`);
    const page = demo ?? (await newPage());
    let jobs = (await idle(page, 0)).jobs;
    await page.setInputFiles('#sit-config', join(goldenDir, 'sit_p2.json'));
    await page.setInputFiles('#sit-file', join(goldenDir, 'sit_p2.safetensors'));
    expect(await idle(page, ++jobs)).toEqual({ jobs });
    expect(await page.locator('#sit-label').innerText()).toMatch(/sit_p2\.safetensors: SiT \(4 blocks, D=64, p=2, 8×8×4 latents, 1000 classes\)$/);
    await page.selectOption('#sampler', 'sde');
    await page.fill('#steps', '3');
    await page.fill('#cfg-scale', '4');
    await page.fill('#class-label', '207');
    await page.fill('#count', '2');
    const t0 = performance.now();
    await page.click('#sample');
    expect(await idle(page, ++jobs)).toEqual({ jobs });
    console.log(`[browser] sampling on the page: ${((performance.now() - t0) / 1000).toFixed(1)}s (${await page.locator('#status').innerText()})`);
    expect(await page.locator('#samples canvas').count()).toBe(2);
    const dims = await page.$$eval('#samples canvas', (cs) => cs.map((c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]));
    expect(dims).toEqual([[32, 32], [32, 32]]);
    await page.screenshot({ path: join(artifacts, 'web-demo.png'), fullPage: true });
  }, 180_000);

  // Note: SwiftShader's sin/cos are coarse (max abs error 4.7e-5 / 1.9e-4 on [-1, 1], against ~1e-7
  // for exp and tanh), which alone can push `trace.train.t_embedder_out` (the sinusoidal timestep
  // features through the timestep MLP) past the 1e-4 tolerance; with exact sin/cos kernels the worst
  // tensor of this fixture is 3e-6. The fix belongs in the timestep embedding, not in this test.
  it('passes the sit_p2 golden fixture in the browser on WebGPU', async (ctx) => {
    if (!webgpu) return ctx.skip('WebGPU is unavailable in this Chromium');
    if (!haveGolden) return ctx.skip(`golden fixtures not found in ${goldenDir}`);
    const page = await newPage();
    const t0 = performance.now();
    await page.goto(`${server?.url ?? ''}golden.html?fixture=/__golden/sit_p2`);
    await page.waitForFunction(() => window.repaeGolden?.result !== undefined, null, { timeout: 150_000, polling: 250 });
    const r = await page.evaluate(() => window.repaeGolden.result);
    console.log(`[browser] ${r?.line ?? 'no result'} — page total ${((performance.now() - t0) / 1000).toFixed(1)}s on ${await page.evaluate(() => window.repaeGolden.backend?.name)}`);
    expect(await page.evaluate(() => window.repaeGolden.backend?.name)).toBe('webgpu');
    expect(r?.error).toBeUndefined();
    expect(r?.checks.filter((c) => !c.pass).map((c) => `${c.tensor}: ${c.err} > ${c.tol}`)).toEqual([]);
    expect(r?.checks.length).toBe(88);
    expect(r?.line).toMatch(/^PASS sit_p2 /);
    await page.screenshot({ path: join(artifacts, 'web-golden.png'), fullPage: true });
    await page.close();
  }, 180_000);

  it('falls back to wasm with a visible notice when the browser has no WebGPU', async () => {
    const page = await newPage();
    await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
    await page.goto(server?.url ?? '');
    await page.waitForFunction(() => window.repaeDemo?.ready === true || window.repaeDemo?.error !== undefined, null, { timeout: 60_000 });
    expect(await page.evaluate(() => window.repaeDemo.backend?.name)).toBe('wasm');
    const warning = page.locator('#backend-warning');
    expect(await warning.isVisible()).toBe(true);
    expect(await warning.innerText()).toMatch(/^WebGPU is not available here: navigator\.gpu is missing.*The page runs on the slower wasm backend/);
    let jobs = (await idle(page, 0)).jobs;
    await page.click('#pattern');
    expect(await idle(page, ++jobs)).toEqual({ jobs });
    await page.screenshot({ path: join(artifacts, 'web-demo-wasm-fallback.png'), fullPage: true });
    await page.close();
  });
});
