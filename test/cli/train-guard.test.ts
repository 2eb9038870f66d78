/**
 * `repae train` never silently changes an experiment and never loses its work: resume with other
 * flags is refused (or, with --allow-config-change, recorded), metrics.jsonl is cut back to the
 * checkpoint on resume, a damaged checkpoint or a shape change on resume is named, the NaN stop
 * says which checkpoint is kept, and SIGINT writes a final checkpoint. Real CLI in child processes.
 */
import { spawn } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot } from '../helpers/snapshot.js';
import { useBackend } from '../../src/backends/index.js';
import { releaseOld } from '../../src/core/scope.js';
import { latestCheckpoint } from '../../src/io/checkpoint.js';
import { buildEncoder, initRunState, openDataset, setupRun } from '../../src/train/run.js';
import { decodeRunConfig } from '../../src/train/config.js';
import { TrainingInterruptedError, trainLoop } from '../../src/train/loop.js';

const root = resolve(import.meta.dirname, '..', '..');
const out = mkdtempSync(join(tmpdir(), 'repae-guard-'));
const TINY = ['--output-dir', out, '--backend', 'wasm', '--resolution', '16', '--vae-ch', '32', '--vae-ch-mult', '1,2', '--patch-size', '4', '--sit-depth', '2', '--sit-hidden', '32',
  '--sit-heads', '2', '--encoder-depth', '1', '--projector-dim', '16', '--disc-layers', '1', '--data-dir', 'builtin:shapes:32', '--batch-size', '4', '--encoder-steps', '0',
  '--perceptual-weight', '0', '--log-every', '1', '--sampling-steps', '100000'];

interface Child { readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly out: string; readonly err: string }

/** Runs `node bin/repae.mjs train ...`; `onOut` sees stdout as it comes and may signal the child. */
function train(args: readonly string[], onOut?: (soFar: string, child: ReturnType<typeof spawn>) => void): Promise<Child> {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, [join(root, 'bin', 'repae.mjs'), 'train', ...TINY, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '', e = '';
    c.stdout?.on('data', (d: Buffer) => { o += d.toString(); onOut?.(o, c); });
    c.stderr?.on('data', (d: Buffer) => { e += d.toString(); });
    const timer = setTimeout(() => c.kill('SIGKILL'), 150_000);
    c.on('error', fail);
    c.on('close', (code, signal) => { clearTimeout(timer); done({ code, signal, out: o, err: e }); });
  });
}

const steps = (run: string): number[] => readFileSync(join(out, run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
const short = (err: string): void => {
  expect(err.trim().split('\n').length, err).toBeLessThanOrEqual(4);
  expect(err).not.toMatch(/node_modules|var Module|^\s+at /m);
};

beforeAll(async () => {
  const r = await train(['--exp-name', 'base', '--max-train-steps', '3', '--checkpointing-steps', '3']);
  expect(r.code, r.err).toBe(0);
  expect(latestCheckpoint(join(out, 'base')).latest?.step).toBe(3);
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('resume', () => {
  it('refuses other experiment flags, listing each, and changes nothing', async () => {
    const before = snapshot(out);
    const r = await train(['--exp-name', 'base', '--max-train-steps', '4', '--mode', 'ldm', '--learning-rate', '0.01']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/resuming would change the experiment.*--mode "repae-e" → "ldm"; --learning-rate 0\.0001 → 0\.01\n/);
    expect(r.err).not.toMatch(/--max-train-steps/); // cadence flags may change
    expect(r.err).toMatch(/--allow-config-change/);
    short(r.err);
    expect(snapshot(out)).toEqual(before);
  });

  it('cuts metrics.jsonl back to the checkpoint step: no duplicate steps after a crash past the checkpoint', async () => {
    // as if the process died after logging steps 4 and 5 but before their checkpoint, mid-line
    appendFileSync(join(out, 'base', 'metrics.jsonl'), `${JSON.stringify({ step: 4, lost: 1 })}\n${JSON.stringify({ step: 5, lost: 1 })}\n{"step": 6, "tor`);
    const r = await train(['--exp-name', 'base', '--max-train-steps', '5', '--checkpointing-steps', '5']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('resumed from step 3');
    expect(r.out).toMatch(/metrics\.jsonl: dropped 3 line\(s\) after step 3/);
    expect(steps('base')).toEqual([1, 2, 3, 4, 5]);
    expect(readFileSync(join(out, 'base', 'metrics.jsonl'), 'utf8')).not.toContain('lost');
    // the cadence change is recorded, not refused
    const hist = readFileSync(join(out, 'base', 'config-history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; changes: Record<string, unknown> });
    expect(hist.at(-1)?.step).toBe(3);
    expect(Object.keys(hist.at(-1)?.changes ?? {})).toEqual(['--max-train-steps', '--checkpointing-steps']);
  });

  it('--allow-config-change continues with the new flags and records the change in the run', async () => {
    const r = await train(['--exp-name', 'base', '--max-train-steps', '6', '--checkpointing-steps', '5', '--learning-rate', '0.0002', '--allow-config-change']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/config changed on resume at step 5: .*--learning-rate 0\.0001 → 0\.0002/);
    const hist = readFileSync(join(out, 'base', 'config-history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; changes: Record<string, { saved: unknown; now: unknown }> });
    expect(hist.at(-1)?.step).toBe(5);
    expect(hist.at(-1)?.changes['--learning-rate']).toEqual({ saved: 0.0001, now: 0.0002 });
    expect((JSON.parse(readFileSync(join(out, 'base', 'config.json'), 'utf8')) as { learningRate: number }).learningRate).toBe(0.0002);
    const ck = JSON.parse(readFileSync(join(out, 'base', 'checkpoints', '0000006', 'state.json'), 'utf8')) as { state: { config: { learningRate: number } } };
    expect(ck.state.config.learningRate).toBe(0.0002);
    expect(steps('base')).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a flipped byte in the checkpoint is named (CRC) and nothing changes', async () => {
    cpSync(join(out, 'base'), join(out, 'damaged'), { recursive: true });
    const f = join(out, 'damaged', 'checkpoints', '0000006', 'sit.safetensors');
    const fd = openSync(f, 'r+'), b = new Uint8Array(1), at = Math.floor(statSync(f).size * 0.8);
    readSync(fd, b, 0, 1, at);
    b[0] = (b[0] as number) ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    closeSync(fd);
    const before = snapshot(out);
    const r = await train(['--exp-name', 'damaged', '--max-train-steps', '7', '--checkpointing-steps', '5', '--learning-rate', '0.0002']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/0000006: sit\.safetensors fails its CRC-32 check/);
    short(r.err);
    expect(snapshot(out)).toEqual(before);
  });

  it('a shape change allowed by --allow-config-change fails naming the tensor, and records nothing', async () => {
    const before = snapshot(out);
    const r = await train(['--exp-name', 'base', '--max-train-steps', '7', '--checkpointing-steps', '5', '--learning-rate', '0.0002', '--sit-hidden', '64', '--allow-config-change']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/repae train: .*(sit|ema)\.safetensors.*'[a-z_.0-9]+'.*\[.*64.*\]/);
    short(r.err);
    expect(snapshot(out)).toEqual(before);
  });
});

describe('NaN stop', () => {
  it('says that no checkpoint is kept when none was written', async () => {
    const r = await train(['--exp-name', 'nan-fresh', '--max-train-steps', '4', '--checkpointing-steps', '100', '--kl-weight', '1e38']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/step 1: .* is (Infinity|NaN); stopping\. No checkpoint has been written yet \(the first was due at step 4\), so nothing of this run is kept/);
    short(r.err);
    expect(existsSync(join(out, 'nan-fresh', 'checkpoints'))).toBe(false);
  });
  it('names the last good checkpoint when there is one', async () => {
    const r = await train(['--exp-name', 'base', '--max-train-steps', '8', '--checkpointing-steps', '5', '--learning-rate', '0.0002', '--kl-weight', '1e38', '--allow-config-change']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/step 7: .*; stopping\. The last good checkpoint, step 6, is kept in .*base[/\\]checkpoints[/\\]0000006/);
    short(r.err);
    expect(latestCheckpoint(join(out, 'base')).latest?.step).toBe(6);
  });
});

describe('signals', () => {
  it('SIGINT during training writes a final checkpoint of the current step, names it, exits 130; the run resumes from it', async () => {
    let sent = false;
    const r = await train(['--exp-name', 'sig', '--max-train-steps', '100000', '--checkpointing-steps', '50000'], (o, c) => {
      if (!sent && /^step 2\//m.test(o)) { sent = true; c.kill('SIGINT'); }
    });
    expect(r.code, r.err).toBe(130);
    const m = /interrupted by SIGINT at step (\d+): checkpoint (.*) holds step \1; run the same command again to resume/.exec(r.err);
    expect(m, r.err).not.toBeNull();
    const step = Number(m?.[1]);
    expect(step).toBeGreaterThanOrEqual(2);
    const latest = latestCheckpoint(join(out, 'sig')).latest;
    expect(latest?.step).toBe(step);
    expect(m?.[2]).toBe(latest?.path);
    expect(steps('sig').at(-1)).toBe(step);
    const again = await train(['--exp-name', 'sig', '--max-train-steps', String(step + 1), '--checkpointing-steps', '50000']);
    expect(again.code, again.err).toBe(0);
    expect(again.out).toContain(`resumed from step ${step}`);
    expect(steps('sig')).toEqual(Array.from({ length: step + 1 }, (_, i) => i + 1));
  });

  it('after the first signal the handler is gone (a second signal gets the default action: exit at once)', async () => {
    await useBackend('wasm');
    const dir = mkdtempSync(join(tmpdir(), 'repae-sig-'));
    const cfg = decodeRunConfig({
      outputDir: dir, expName: 'run', backend: 'wasm', dataDir: 'builtin:shapes:8', resolution: 16, batchSize: 4, sitDepth: 1, sitHidden: 32, sitHeads: 2, encoderDepth: 1, projectorDim: 16,
      patchSize: 4, vaeCh: 32, vaeChMult: [1, 2], discNdf: 4, discLayers: 1, perceptualWeight: 0, encoderSteps: 0, maxTrainSteps: 50, checkpointingSteps: 1000, samplingSteps: 1000, logEvery: 1,
    });
    const data = openDataset(cfg);
    const enc = await buildEncoder(cfg, data, undefined, () => {}, 0);
    const setup = setupRun(cfg, enc.spec.dim);
    const base = { SIGINT: process.listenerCount('SIGINT'), SIGTERM: process.listenerCount('SIGTERM') };
    const seen: number[][] = [];
    const n0 = tf.memory().numTensors;
    let error: unknown;
    try {
      const s = await trainLoop({
        runDir: join(dir, 'run'), setup, data, encoder: enc, log: () => {}, progress: false, init: () => initRunState(setup, data, enc, () => {}),
        onStep: (step) => {
          seen.push([process.listenerCount('SIGINT') - base.SIGINT, process.listenerCount('SIGTERM') - base.SIGTERM]);
          if (step === 2) {
            process.emit('SIGTERM', 'SIGTERM');
            seen.push([process.listenerCount('SIGINT') - base.SIGINT, process.listenerCount('SIGTERM') - base.SIGTERM]);
          }
        },
      });
      releaseOld(s, null);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrainingInterruptedError);
    expect((error as TrainingInterruptedError).exitCode).toBe(143);
    expect((error as Error).message).toMatch(/interrupted by SIGTERM at step 2: checkpoint .*0000002 holds step 2/);
    expect(seen).toEqual([[1, 1], [1, 1], [0, 0]]); // ours while training; gone after the first signal
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([base.SIGINT, base.SIGTERM]);
    expect(tf.memory().numTensors).toBe(n0); // the interrupted state is released, the caller's encoder is not
    expect(latestCheckpoint(join(dir, 'run')).latest?.step).toBe(2);
    releaseOld(enc.weights, null);
    rmSync(dir, { recursive: true, force: true });
  });
});

