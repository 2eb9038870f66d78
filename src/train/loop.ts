/**
 * @file The training loop around the pure REPA-E step: data, encoder targets, progress, JSONL
 * metrics, sample grids, atomic checkpoints, resume, and NaN/Inf detection.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fold, normal, type Key } from '../core/rng.js';
import { dispose, releaseOld, tidy } from '../core/scope.js';
import { toTensor, type T } from '../core/tensor.js';
import { add, clip, mul, sqrt } from '../core/ops/index.js';
import type { Dataset } from '../data/dataset.js';
import { imageGrid } from '../io/png.js';
import type { SitWeights } from '../models/sit/params.js';
import { vaeDecode } from '../models/vae/index.js';
import type { VaeParams } from '../models/vae/params.js';
import { eulerSampler, sitVelocityModel } from '../sample/index.js';
import { batchAt, checkEncoderTokens, ItemCache, LatentCache, loadRunCheckpoint, saveRunCheckpoint, type RunEncoder, type RunSetup } from './run.js';
import { readMetrics, repaeStep, type RepaeState } from '../repae/step.js';
import { writeFileAtomic } from '../io/atomic.js';
import { latestCheckpoint } from '../io/checkpoint.js';
import { ConfigMismatchError, configChanges, describeChanges, type ConfigChange, type RunConfig } from './config.js';
import type { LoopParallel } from './distributed.js';

/** Thrown when a loss or gradient norm becomes NaN/Inf; names the metric and the step. @category optimizers */
export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
}

/**
 * Thrown when SIGINT/SIGTERM stopped training after a final checkpoint; `exitCode` is 128 + the
 * signal number (130, 143), as a shell reports a signal.
 * @category optimizers
 */
export class TrainingInterruptedError extends Error {
  override readonly name = 'TrainingInterruptedError';
  /** Process exit code. */
  readonly exitCode: number;
  constructor(message: string, signal: 'SIGINT' | 'SIGTERM' | (string & {})) {
    super(message);
    this.exitCode = signal === 'SIGTERM' ? 143 : 130;
  }
}

/** The config a run was saved with: its newest complete checkpoint's `state.json` config, else `config.json`. @category io */
export function savedRunConfig(runDir: string): { readonly config: Readonly<Record<string, unknown>>; readonly source: string; readonly step: number } | undefined {
  const obj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const { latest } = latestCheckpoint(runDir);
  if (latest !== undefined) {
    const file = join(latest.path, 'state.json');
    const j: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const c = obj(j) && obj(j['state']) ? j['state']['config'] : undefined;
    if (obj(c)) return { config: c, source: file, step: latest.step };
  }
  const file = join(runDir, 'config.json');
  if (!existsSync(file)) return undefined;
  const c: unknown = JSON.parse(readFileSync(file, 'utf8'));
  return obj(c) ? { config: c, source: file, step: 0 } : undefined;
}

/**
 * Compares a run's saved config with the config it is resumed with. Changes of experiment fields
 * are refused with {@link ConfigMismatchError} listing each differing flag, unless
 * `allowConfigChange`; cadence fields (`CADENCE_FIELDS`) may always change. Returns the changes
 * (empty when identical or when there is nothing saved).
 * @category io
 */
export function checkResumeConfig(runDir: string, cfg: RunConfig, allowConfigChange = false): ConfigChange[] {
  const saved = savedRunConfig(runDir);
  if (saved === undefined) return [];
  const changes = configChanges(saved.config, cfg);
  const hard = changes.filter((c) => !c.cadence);
  if (hard.length > 0 && !allowConfigChange)
    throw new ConfigMismatchError(
      `${runDir}: resuming would change the experiment; the flags differ from the saved config (${saved.source}): ${hard.map((c) => describeChanges([c])).join('; ')}\n` +
        'rerun with the saved flags, use another --exp-name, or pass --allow-config-change to continue with the new ones (recorded in config-history.jsonl)',
    );
  return changes;
}

/**
 * Cuts `<runDir>/metrics.jsonl` back to the lines with `step ≤ step` (and drops a torn last line),
 * atomically, so a resumed run does not log the same steps twice. Returns the lines dropped.
 * @category io
 */
export function cutMetrics(runDir: string, step: number): number {
  const file = join(runDir, 'metrics.jsonl');
  if (!existsSync(file)) return 0;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const keep = lines.filter((l) => {
    try {
      const s = (JSON.parse(l) as { step?: unknown }).step;
      return typeof s === 'number' && s <= step;
    } catch {
      return false;
    }
  });
  if (keep.length === lines.length) return 0;
  writeFileAtomic(file, new TextEncoder().encode(keep.map((l) => `${l}\n`).join('')));
  return lines.length - keep.length;
}

/** Options of {@link trainLoop}. @category optimizers */
export interface LoopOptions {
  readonly runDir: string;
  readonly setup: RunSetup;
  readonly data: Dataset;
  readonly encoder: RunEncoder;
  /** Initial state when there is nothing to resume. */
  readonly init: () => Promise<RepaeState>;
  /** Receives each progress / log line. */
  readonly log: (line: string) => void;
  /** Called with each step's metrics (after logging). */
  readonly onStep?: (step: number, metrics: Readonly<Record<string, number>>) => void;
  /** Steps to run in this call (default: up to `maxTrainSteps`). */
  readonly stopAt?: number;
  /** Draw a progress bar on stderr (default: when stderr is a TTY). */
  readonly progress?: boolean;
  /** Resume even when experiment flags differ from the run's saved config (the change is recorded in `config-history.jsonl`). */
  readonly allowConfigChange?: boolean;
  /** Stop on SIGINT/SIGTERM after writing a final checkpoint (default true). */
  readonly handleSignals?: boolean;
  /** One rank of a data-parallel run (src/train/distributed.ts); only rank 0 writes. */
  readonly parallel?: LoopParallel;
}

/** Decodes normalised latents through the BN running statistics (`z/scale + bias`, scale = running_var^-1/2, no eps) and the VAE. @category samplers */
export function decodeLatents(x0: T<never>, bn: SitWeights['bn'], vae: VaeParams<never>): T<never> {
  return tidy(() => {
    const z = add(mul(x0, sqrt(bn.runningVar)), bn.runningMean);
    return clip(vaeDecode(vae, z), -1, 1);
  });
}

/** A preview grid: one Euler sample per class (CFG 4 on [0, 1], official preview settings but fewer steps). @category samplers */
export async function previewGrid(w: SitWeights, vae: VaeParams<never>, setup: RunSetup, key: Key, perClass = 2, steps = 25): Promise<Uint8Array> {
  const nc = setup.sit.numClasses;
  const y = Array.from({ length: nc * perClass }, (_, i) => i % nc);
  const xT = normal(key, [y.length, setup.sit.inputSize, setup.sit.inputSize, setup.sit.inChannels]);
  const x0 = await eulerSampler(sitVelocityModel(w.sit, setup.sit), xT, y, { numSteps: steps, guidance: { scale: 4, low: 0, high: 1 } });
  const img = decodeLatents(x0, w.bn, vae);
  const png = await imageGrid(toTensor(img), { nrow: nc });
  dispose([xT, x0, img]);
  return png;
}

const fmt = (x: number): string => (Math.abs(x) >= 100 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(4));

function bar(step: number, total: number, t0: number, first: number, m: Readonly<Record<string, number>>): string {
  const w = 24, f = Math.min(1, step / total), done = Math.round(f * w);
  const rate = (step - first) / Math.max(1e-9, (performance.now() - t0) / 1000);
  const eta = rate > 0 ? (total - step) / rate : 0;
  const keys = ['sit_loss', 'vae_loss', 'd_loss', 'grad_norm_sit'].filter((k) => m[k] !== undefined);
  return `\r[${'#'.repeat(done)}${'.'.repeat(w - done)}] ${step}/${total} ${rate.toFixed(2)} it/s ETA ${Math.round(eta)}s ${keys.map((k) => `${k}=${fmt(m[k] as number)}`).join(' ')}\x1b[K`;
}

/**
 * Trains from the latest complete checkpoint in `runDir` (or from `init()`), one
 * {@link repaeStep} per batch, until `maxTrainSteps` (or `stopAt`). Every `logEvery` steps a JSON
 * line goes to `<runDir>/metrics.jsonl`; every `checkpointingSteps` an atomic checkpoint is
 * written; every `samplingSteps` (and at step 1) a sample grid PNG. A non-finite metric stops the
 * run with {@link NonFiniteLossError} before anything of that step is saved, so the last
 * checkpoint stays the last good one (the message says which, or that there is none). On resume
 * the saved config is compared with `setup.cfg` ({@link checkResumeConfig}; changes are recorded
 * in `config-history.jsonl`) and `metrics.jsonl` is cut back to the checkpoint's step. SIGINT or
 * SIGTERM finishes the current step, writes an atomic checkpoint and throws
 * {@link TrainingInterruptedError} naming it; a second signal exits at once. Returns the final
 * state (the caller disposes it).
 * @category optimizers
 */
export async function trainLoop(o: LoopOptions): Promise<RepaeState> {
  const { runDir, setup, data, encoder, log } = o;
  const cfg = setup.cfg;
  mkdirSync(join(runDir, 'samples'), { recursive: true });
  checkEncoderTokens(encoder, setup);
  const par = o.parallel, writer = par?.writer ?? true;
  const changes = cfg.resume ? checkResumeConfig(runDir, cfg, o.allowConfigChange === true) : [];
  const resumed = cfg.resume ? loadRunCheckpoint(runDir, setup, encoder, log) : undefined;
  let s = resumed?.state ?? (await o.init());
  if (par !== undefined) s = await par.syncState(s);
  if (resumed !== undefined) {
    log(`resumed from step ${s.step} (${runDir}/checkpoints)`);
    if (writer && changes.length > 0) recordConfigChange(runDir, cfg, changes, s.step, log);
  } else if (writer) writeFileAtomic(join(runDir, 'config.json'), new TextEncoder().encode(`${JSON.stringify(cfg, null, 2)}\n`));
  const dropped = writer ? cutMetrics(runDir, s.step) : 0;
  if (dropped > 0) log(`metrics.jsonl: dropped ${dropped} line(s) after step ${s.step} (they are trained again)`);
  const total = Math.min(o.stopAt ?? cfg.maxTrainSteps, cfg.maxTrainSteps);
  const showBar = o.progress ?? process.stderr.isTTY === true;
  const t0 = performance.now(), first = s.step;
  let last: Record<string, number> = {};
  let cache: LatentCache | undefined;
  const features = new ItemCache((b) => [encoder.features(b.pixels, b.x)]);
  let savedStep = resumed === undefined ? -1 : s.step;
  let signal: NodeJS.Signals | undefined;
  const signals = o.handleSignals === false ? [] : (['SIGINT', 'SIGTERM'] as const);
  const onSecond = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\nrepae: second ${sig}: exiting at once, without a checkpoint of step ${s.step}\n`);
    process.exit(sig === 'SIGTERM' ? 143 : 130);
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    signal = sig;
    process.stderr.write(`\nrepae: ${sig}: finishing the current step, then writing a checkpoint (${sig === 'SIGINT' ? 'Ctrl-C' : 'signal'} again to exit at once)\n`);
    // A second signal must work even while a step runs synchronously: with no listener left, Node
    // restores the default action (terminate at once); if someone else listens, exit from ours.
    for (const g of signals) {
      process.removeListener(g, onSignal);
      if (process.listenerCount(g) > 0) process.on(g, onSecond);
    }
  };
  for (const sig of signals) process.on(sig, onSignal);
  try {
    while (s.step < total) {
      // Steps run synchronously on CPU backends: yield to the event loop so a signal is seen.
      if (signals.length > 0) await new Promise<void>((r) => setImmediate(r));
      if (signal !== undefined) break;
      const b = par === undefined ? batchAt(data, setup, s.step) : par.batch(data, setup, s.step);
      // Frozen VAE: latents come from the cache (encoded once per item), as train_ldm_only.py's cached
      // mean/std; so do the frozen encoder's targets (the same values it would compute each step).
      const zs = setup.step.mode === 'ldm' ? await features.batch(b) : [encoder.features(b.pixels, b.x)];
      // (one cache per loop: an ldm step never changes the VAE, though the state record around it is new each step)
      if (setup.step.mode === 'ldm' && cache === undefined) cache = new LatentCache(s.store.vae);
      const cached = cache === undefined ? undefined : await cache.batch(b);
      const inject = par?.inject(s.step) ?? {};
      const [next, m] = repaeStep(par?.stepConfig ?? setup.step, s, { x: b.x, y: b.y, zs, ...(cached === undefined ? {} : { cached }) }, par?.stepKey ?? setup.stepKey, inject);
      const vals = par === undefined ? await readMetrics(m) : await par.reduceMetrics(await readMetrics(m));
      releaseOld([b, zs, cached, inject], null);
      const bad = Object.entries(vals).find(([, v]) => !Number.isFinite(v));
      if (bad !== undefined) {
        releaseOld(next, s);
        const { latest } = latestCheckpoint(runDir);
        const kept = latest === undefined
          ? `No checkpoint has been written yet (the first was due at step ${Math.min(cfg.checkpointingSteps, total)}), so nothing of this run is kept`
          : `The last good checkpoint, step ${latest.step}, is kept in ${latest.path}`;
        throw new NonFiniteLossError(`step ${s.step + 1}: ${bad[0]} is ${bad[1]}; stopping. ${kept} (lower the learning rates or check the data).`);
      }
      s = next;
      last = vals;
      if (writer && (s.step % cfg.logEvery === 0 || s.step === total)) appendFileSync(join(runDir, 'metrics.jsonl'), `${JSON.stringify({ step: s.step, time: Date.now(), ...vals })}\n`);
      if (showBar) process.stderr.write(bar(s.step, total, t0, first, vals));
      else if (s.step % cfg.logEvery === 0 || s.step === total) log(`step ${s.step}/${total} ${Object.entries(vals).filter(([k]) => !k.includes('dict')).map(([k, v]) => `${k}=${fmt(v)}`).join(' ')}`);
      o.onStep?.(s.step, vals);
      if (writer && (s.step === 1 || s.step % cfg.samplingSteps === 0)) {
        const png = await previewGrid({ sit: s.store.sit, proj: s.store.proj, bn: s.bn }, s.store.vae, setup, fold(setup.stepKey, 777));
        writeFileSync(join(runDir, 'samples', `${String(s.step).padStart(7, '0')}.png`), png);
      }
      if (writer && (s.step % cfg.checkpointingSteps === 0 || s.step === total)) {
        const path = await saveRunCheckpoint(runDir, s, setup, encoder);
        savedStep = s.step;
        if (showBar) process.stderr.write('\n');
        log(`checkpoint ${path}`);
      }
    }
    if (signal !== undefined) {
      const sig: NodeJS.Signals = signal;
      if (showBar) process.stderr.write('\n');
      const path = savedStep === s.step || !writer ? latestCheckpoint(runDir).latest?.path : await saveRunCheckpoint(runDir, s, setup, encoder);
      releaseOld(s, encoder.weights); // the state is saved; the encoder belongs to the caller
      throw new TrainingInterruptedError(`interrupted by ${sig} at step ${s.step}: ${path === undefined ? 'no checkpoint could be written' : `checkpoint ${path} holds step ${s.step}`}; run the same command again to resume`, sig);
    }
  } finally {
    for (const sig of signals) {
      process.removeListener(sig, onSignal);
      process.removeListener(sig, onSecond);
    }
  }
  if (showBar) process.stderr.write('\n');
  void last;
  return s;
}

/** Appends a resume's config changes to `<run>/config-history.jsonl` and makes `config.json` the new config. */
function recordConfigChange(runDir: string, cfg: RunConfig, changes: readonly ConfigChange[], step: number, log: (s: string) => void): void {
  const entry = { time: new Date().toISOString(), step, changes: Object.fromEntries(changes.map((c) => [c.flag, { saved: c.saved ?? null, now: c.now ?? null }])) };
  appendFileSync(join(runDir, 'config-history.jsonl'), `${JSON.stringify(entry)}\n`);
  writeFileAtomic(join(runDir, 'config.json'), new TextEncoder().encode(`${JSON.stringify(cfg, null, 2)}\n`));
  log(`config changed on resume at step ${step}: ${describeChanges(changes)} (recorded in ${join(runDir, 'config-history.jsonl')})`);
}
