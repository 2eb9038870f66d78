/**
 * @file The demo page: (1) an image through a VAE — input, latent PCA image, reconstruction; (2)
 * class-conditional samples from a SiT decoded by that VAE. Runs on tfjs-backend-webgpu, or on the
 * wasm backend (with a notice) where the browser has no WebGPU.
 */
import { choosePageBackend, type PageBackend } from './lib/backend.js';
import { drawRgb, loadSquareImage, psnr, testPattern, type RgbImage } from './lib/images.js';
import { disposeModel, loadRunSit, loadSit, loadVae, tinySit, tinyVae, type Json, type SitModel, type VaeModel } from './lib/models.js';
import { incompatibility, reconstruct, sampleImages, type Reconstruction, type SamplerName } from './lib/pipeline.js';

/** What the page exposes as `window.repaeDemo` (read by the browser tests; handy in the console). */
export interface DemoHandle {
  ready: boolean;
  busy: boolean;
  backend?: PageBackend;
  vae?: string;
  sit?: string;
  /** The latest reconstruction (model values, HWC). */
  last?: Reconstruction;
  /** The latest local run the dev server offers (`repae-run/latest.json`), once known. */
  run?: { readonly name: string; readonly step: number; readonly checkpoint: string };
  /** Images in the samples panel. */
  samples?: number;
  /** Jobs finished so far, and the message of the latest failure. */
  jobs: number;
  error?: string;
}

declare global {
  interface Window {
    repaeDemo: DemoHandle;
  }
}

const handle: DemoHandle = { ready: false, busy: false, jobs: 0 };
window.repaeDemo = handle;

const byId = <E extends HTMLElement>(id: string): E => {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`index.html has no #${id}`);
  return e as E;
};
const input = (id: string): HTMLInputElement => byId<HTMLInputElement>(id);

const ui = {
  backend: byId('backend'),
  backendWarning: byId('backend-warning'),
  vaeLabel: byId('vae-label'),
  sitLabel: byId('sit-label'),
  imageSize: byId<HTMLSelectElement>('image-size'),
  drop: byId('drop'),
  inputCanvas: byId<HTMLCanvasElement>('input-canvas'),
  pcaCanvas: byId<HTMLCanvasElement>('pca-canvas'),
  pcaCaption: byId('pca-caption'),
  reconCanvas: byId<HTMLCanvasElement>('recon-canvas'),
  reconCaption: byId('recon-caption'),
  sampler: byId<HTMLSelectElement>('sampler'),
  samples: byId('samples'),
  progress: byId<HTMLProgressElement>('progress'),
  status: byId('status'),
  error: byId('error'),
  runOffer: byId('run-offer'),
  openRun: byId<HTMLButtonElement>('open-run'),
  runDetail: byId('run-detail'),
};

// ------------------------------------------------------------------------------------------------
// Status, progress and one job at a time
// ------------------------------------------------------------------------------------------------

/** Shows progress: a fraction in [0, 1], or `undefined` for "working" without a known fraction. */
function progress(text: string, fraction?: number): void {
  ui.status.textContent = text;
  if (fraction === undefined) ui.progress.removeAttribute('value');
  else ui.progress.value = fraction;
}

function showError(text: string | undefined): void {
  ui.error.hidden = text === undefined;
  ui.error.textContent = text ?? '';
  if (text !== undefined) handle.error = text;
}

const controls = (): NodeListOf<HTMLInputElement | HTMLButtonElement | HTMLSelectElement> => document.querySelectorAll('input, button, select');

let queue: Promise<void> = Promise.resolve();

/** Runs `work` after every earlier job, with the controls disabled and errors shown on the page. */
function job(title: string, work: () => Promise<string>): Promise<void> {
  queue = queue.then(async () => {
    handle.busy = true;
    document.body.dataset['busy'] = 'true';
    controls().forEach((c) => (c.disabled = true));
    showError(undefined);
    progress(`${title}…`);
    const t0 = performance.now();
    try {
      const done = await work();
      progress(`${done} (${((performance.now() - t0) / 1000).toFixed(1)} s)`, 1);
    } catch (e) {
      console.error(e);
      progress(`${title} failed.`, 0);
      showError(`${title} failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      controls().forEach((c) => (c.disabled = false));
      handle.busy = false;
      handle.jobs++;
      delete document.body.dataset['busy'];
    }
  });
  return queue;
}

// ------------------------------------------------------------------------------------------------
// Panel 1: VAE round trip
// ------------------------------------------------------------------------------------------------

let vae: VaeModel;
let sit: SitModel;
/** The image shown in panel 1: a file, or the built-in pattern. */
let source: Blob | 'pattern' | undefined;

function setVae(m: VaeModel): void {
  disposeModel(vae);
  vae = m;
  handle.vae = m.label;
  ui.vaeLabel.textContent = m.label;
  const size = String(m.imageSize);
  if (!Array.from(ui.imageSize.options).some((o) => o.value === size)) ui.imageSize.add(new Option(size));
  ui.imageSize.value = size;
  describeSit();
}

/** Encodes and decodes the current image with the current VAE and draws the three figures. */
function runReconstruction(): Promise<void> {
  const src = source;
  if (src === undefined) return Promise.resolve();
  return job('Reconstructing', async () => {
    const size = Number(ui.imageSize.value);
    let image: RgbImage, origin: string;
    if (src === 'pattern') [image, origin] = [testPattern(size), 'test pattern'];
    else {
      const r = await loadSquareImage(src, size);
      [image, origin] = [r.image, `${src instanceof File ? src.name : 'image'} (${r.original})`];
    }
    drawRgb(ui.inputCanvas, image);
    const r = await reconstruct(vae, image, (stage) => progress(`Reconstructing: ${stage}…`));
    handle.last = r;
    drawRgb(ui.pcaCanvas, r.pca);
    drawRgb(ui.reconCanvas, r.recon);
    const [h, w, e] = r.latentShape;
    ui.pcaCaption.textContent = `Latent ${h}×${w}×${e} (top 3 principal components as RGB)`;
    ui.reconCaption.textContent = `Reconstruction · PSNR ${psnr(image.data, r.recon.data).toFixed(2)} dB`;
    return `Reconstructed ${origin} at ${size}×${size}: encode ${r.encodeMs.toFixed(0)} ms, decode ${r.decodeMs.toFixed(0)} ms`;
  });
}

const readJson = async (f: File): Promise<Json> => {
  try {
    return JSON.parse(await f.text()) as Json;
  } catch (e) {
    throw new Error(`${f.name} is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
};

function onVaeFiles(): void {
  const weights = input('vae-file').files?.[0];
  const config = input('vae-config').files?.[0];
  if (weights === undefined) return;
  void job('Loading the VAE', async () => {
    const m = loadVae(new Uint8Array(await weights.arrayBuffer()), weights.name, config === undefined ? undefined : await readJson(config));
    setVae(m);
    return `Loaded ${m.label}`;
  }).then(runReconstruction);
}

// ------------------------------------------------------------------------------------------------
// Panel 2: SiT samples
// ------------------------------------------------------------------------------------------------

function describeSit(): void {
  if (sit === undefined || vae === undefined) return;
  const why = incompatibility(sit, vae, { cfgScale: 1, classLabel: 0 });
  ui.sitLabel.textContent = why === undefined ? sit.label : `${sit.label} — cannot sample with this VAE: ${why}`;
  input('class-label').max = String(sit.cfg.numClasses - 1);
}

function setSit(m: SitModel): void {
  disposeModel(sit);
  sit = m;
  handle.sit = m.label;
  describeSit();
}

function onSitFiles(): void {
  const weights = input('sit-file').files?.[0];
  const config = input('sit-config').files?.[0];
  if (weights === undefined || config === undefined) {
    progress(`Pick the SiT ${weights === undefined ? 'checkpoint (.safetensors)' : 'config (.json)'} too.`, 0);
    return;
  }
  void job('Loading the SiT', async () => {
    const m = loadSit(new Uint8Array(await weights.arrayBuffer()), weights.name, await readJson(config));
    setSit(m);
    return `Loaded ${m.label}`;
  });
}

function runSampling(): Promise<void> {
  return job('Sampling', async () => {
    const opts = {
      sampler: ui.sampler.value as SamplerName,
      steps: Math.max(1, Math.round(Number(input('steps').value))),
      cfgScale: Number(input('cfg-scale').value),
      classLabel: Number(input('class-label').value),
      count: Math.min(16, Math.max(1, Math.round(Number(input('count').value)))),
      seed: Math.max(0, Math.round(Number(input('seed').value))),
    };
    const images = await sampleImages(sit, vae, {
      ...opts,
      onStep: (p) => progress(`Sampling: step ${p.step}/${p.numSteps} (t = ${p.tNext.toFixed(3)}, ${p.nfe} model evaluations)`, p.step / p.numSteps),
      onStage: (stage) => (stage === 'decoding' ? progress('Decoding the latents with the VAE…') : undefined),
    });
    ui.samples.replaceChildren(
      ...images.map((img, i) => {
        const fig = document.createElement('figure');
        const canvas = document.createElement('canvas');
        drawRgb(canvas, img);
        const cap = document.createElement('figcaption');
        cap.textContent = `class ${opts.classLabel} · #${i}`;
        fig.append(canvas, cap);
        return fig;
      }),
    );
    handle.samples = images.length;
    const guided = opts.cfgScale > 1 ? `CFG ${opts.cfgScale}` : 'no guidance';
    return `Sampled ${images.length} × class ${opts.classLabel} with ${ui.sampler.selectedOptions[0]?.text ?? opts.sampler}, ${opts.steps} steps, ${guided}`;
  });
}

// ------------------------------------------------------------------------------------------------
// The latest local run (what `npm start` trained), served by the dev server (web/vite.config.ts)
// ------------------------------------------------------------------------------------------------

interface LatestRun {
  readonly name: string;
  readonly step: number;
  readonly checkpoint: string;
  readonly completed: string;
  readonly config: Json;
  readonly sit: string;
  readonly vae: string;
}

const isLatestRun = (j: unknown): j is LatestRun =>
  typeof j === 'object' && j !== null && typeof (j as LatestRun).name === 'string' && typeof (j as LatestRun).step === 'number' &&
  typeof (j as LatestRun).config === 'object' && typeof (j as LatestRun).sit === 'string' && typeof (j as LatestRun).vae === 'string';

/** Asks the dev server for the latest run; shows the one-click offer when there is one. */
async function offerLatestRun(): Promise<void> {
  let j: unknown;
  try {
    const r = await fetch('./repae-run/latest.json', { cache: 'no-store' });
    if (!r.ok) return; // a static build, or no run yet
    j = await r.json();
  } catch {
    return;
  }
  if (!isLatestRun(j)) return;
  const run = j;
  handle.run = { name: run.name, step: run.step, checkpoint: run.checkpoint };
  ui.openRun.textContent = `Open the latest run: ${run.name}, step ${run.step}`;
  ui.runDetail.textContent = `runs/${run.checkpoint} (completed ${new Date(run.completed).toLocaleString()}): its VAE, EMA SiT, config and latent statistics`;
  ui.runOffer.hidden = false;
  ui.openRun.onclick = () => void openRun(run);
}

const fetchBytes = async (url: string): Promise<Uint8Array> => {
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  return new Uint8Array(await r.arrayBuffer());
};

/** Loads the run's VAE and SiT, then shows a reconstruction and class-conditional samples with the demo's sampler settings. */
async function openRun(run: LatestRun): Promise<void> {
  await job(`Loading run ${run.name}`, async () => {
    const [vb, sb] = await Promise.all([fetchBytes(`./repae-run/${run.vae}.safetensors`), fetchBytes(`./repae-run/${run.sit}.safetensors`)]);
    const v = loadVae(vb, `${run.name}/${run.vae}.safetensors`);
    const s = loadRunSit(sb, `${run.name}/${run.sit}.safetensors`, run.config);
    setVae(v);
    const res = run.config['resolution'];
    if (typeof res === 'number') {
      if (!Array.from(ui.imageSize.options).some((o) => o.value === String(res))) ui.imageSize.add(new Option(String(res)));
      ui.imageSize.value = String(res);
    }
    setSit(s);
    return `Loaded run ${run.name} (step ${run.step}): ${v.label}; ${s.label}`;
  });
  if (handle.error !== undefined) return;
  source ??= 'pattern';
  await runReconstruction();
  // The demo report's settings: Euler, 50 steps, CFG 4 (when the SiT has a null class).
  ui.sampler.value = 'euler';
  input('steps').value = '50';
  input('cfg-scale').value = sit.cfg.classDropoutProb > 0 ? '4' : '1';
  input('count').value = String(Math.min(8, sit.cfg.numClasses));
  await runSampling();
}

// ------------------------------------------------------------------------------------------------
// Start
// ------------------------------------------------------------------------------------------------

function wire(): void {
  input('image-file').addEventListener('change', () => {
    const f = input('image-file').files?.[0];
    if (f !== undefined) {
      source = f;
      void runReconstruction();
    }
  });
  byId('pattern').addEventListener('click', () => {
    source = 'pattern';
    void runReconstruction();
  });
  ui.drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    ui.drop.classList.add('over');
  });
  ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
  ui.drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    ui.drop.classList.remove('over');
    const f = ev.dataTransfer?.files[0];
    if (f === undefined) return;
    if (!f.type.startsWith('image/')) return showError(`${f.name} is not an image`);
    source = f;
    void runReconstruction();
  });
  ui.imageSize.addEventListener('change', () => void runReconstruction());
  input('vae-file').addEventListener('change', onVaeFiles);
  input('vae-config').addEventListener('change', onVaeFiles);
  byId('vae-reset').addEventListener('click', () => {
    input('vae-file').value = '';
    input('vae-config').value = '';
    void job('Building the tiny VAE', async () => (setVae(tinyVae()), 'Using the built-in tiny VAE')).then(runReconstruction);
  });
  input('sit-file').addEventListener('change', onSitFiles);
  input('sit-config').addEventListener('change', onSitFiles);
  byId('sit-reset').addEventListener('click', () => {
    input('sit-file').value = '';
    input('sit-config').value = '';
    void job('Building the tiny SiT', async () => (setSit(tinySit()), 'Using the built-in tiny SiT'));
  });
  byId('sample').addEventListener('click', () => void runSampling());
}

async function start(): Promise<void> {
  wire();
  await job('Starting a tfjs backend', async () => {
    const b = await choosePageBackend(new URLSearchParams(location.search).get('backend') ?? undefined);
    handle.backend = b;
    ui.backend.dataset['backend'] = b.name;
    if (b.name === 'webgpu') ui.backend.textContent = `Backend: WebGPU (tfjs-backend-webgpu) · adapter: ${b.detail}`;
    else {
      ui.backend.textContent = `Backend: wasm (tfjs-backend-wasm, CPU) · ${b.detail}`;
      ui.backendWarning.hidden = false;
      ui.backendWarning.textContent = `WebGPU is not available here: ${b.fallbackReason ?? 'unknown reason'}. The page runs on the slower wasm backend (CPU) instead.`;
    }
    setVae(tinyVae());
    setSit(tinySit());
    return `Ready on ${b.name}`;
  });
  await offerLatestRun();
  handle.ready = handle.backend !== undefined;
  document.body.dataset['ready'] = String(handle.ready);
}

void start();
