/**
 * The threaded tfjs-backend-wasm in Node (src/backends/wasm-threads.ts): it really starts N
 * threads, computes what the cpu reference computes, passes the sit_p2 and vae_f8 golden fixtures,
 * switches thread counts without leaking tensors, and a process using it exits promptly however it
 * ends (return, error, process.exit, signal).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { setDefaultThreads, useBackend, wasmThreads } from '../../src/backends/index.js';
import { defaultThreads } from '../../src/backends/wasm-threads.js';
import { checkSitFixture } from '../../src/golden/sit.js';
import { checkVaeFixture } from '../../src/golden/vae.js';
import { goldenDir, haveGolden, loadFixture } from '../helpers/golden.js';

const child = join(import.meta.dirname, 'fixtures', 'wasm-threads-child.ts');

/** Runs the child in `mode`; resolves with its exit code/signal, output and wall time. */
function runChild(mode: string, onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void): Promise<{ code: number | null; signal: string | null; out: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, ['--import', 'tsx', child, mode, '2'], { env: { ...process.env, REPAE_THREADS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`child '${mode}' still running after 60 s (hang):\n${out}`)); }, 60_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const l of d.toString().split('\n')) if (l !== '') onLine?.(l, (s) => p.kill(s));
    });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out, ms: performance.now() - t0 }); });
  });
}

describe('threaded wasm: process lifetime', () => {
  it('a finished program exits on its own (parked pool threads keep nothing alive)', async () => {
    const r = await runChild('return');
    expect(r.out).toContain(`threads 2 result ${2 * 32 * 32 * (16 * 3 - 2) ** 2}`); // ones conv 3×3 'same': 46² valid taps per channel pair
    expect(r.code).toBe(0);
    expect(r.ms).toBeLessThan(30_000);
  });
  it('an uncaught error exits non-zero with its message', async () => {
    const r = await runChild('throw');
    expect(r.out).toContain('deliberate failure after threaded work');
    expect(r.code).not.toBe(0);
  });
  it('process.exit ends it with that code', async () => {
    expect((await runChild('exit')).code).toBe(3);
  });
  it('SIGINT and SIGTERM during threaded work end it promptly', async () => {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      let sent = 0;
      const r = await runChild('signal', (l, kill) => { if (l === 'ready') { sent = performance.now(); kill(sig); } });
      expect(sent).toBeGreaterThan(0);
      expect(r.signal ?? String(r.code)).toBe(sig);
    }
  });
});

describe('threaded wasm: settings', () => {
  it('REPAE_THREADS sets the default (errors name it); unset, the default is 1..min(cores, 8)', () => {
    const saved = process.env['REPAE_THREADS'];
    try {
      process.env['REPAE_THREADS'] = '3';
      expect(defaultThreads()).toBe(3);
      process.env['REPAE_THREADS'] = '12';
      expect(defaultThreads()).toBe(8);
      process.env['REPAE_THREADS'] = 'two';
      expect(() => defaultThreads()).toThrow(/REPAE_THREADS expects an integer ≥ 1.*'two'/);
      delete process.env['REPAE_THREADS'];
      const d = defaultThreads();
      expect(d).toBeGreaterThanOrEqual(1);
      expect(d).toBeLessThanOrEqual(Math.min(availableParallelism(), 8));
    } finally {
      if (saved === undefined) delete process.env['REPAE_THREADS'];
      else process.env['REPAE_THREADS'] = saved;
    }
  });

  it('repae backends --threads 3 starts and reports 3 threads; a bad --threads is a usage error naming it', async () => {
    const { repae } = await import('../cli/run-cli.js');
    try {
      const r = await repae('backends', '--threads', '3');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^wasm\s+available .*; 3 threads of \d+ core\(s\)/m);
      expect(wasmThreads().actual).toBe(3);
      const bad = await repae('backends', '--threads', '0');
      expect(bad.code).toBe(2);
      expect(bad.err).toContain("--threads expects an integer ≥ 1, got '0'");
    } finally {
      setDefaultThreads(undefined);
    }
  });
});

describe('threaded wasm: numerics', () => {
  const fill = (shape: number[], f: (i: number) => number): tf.Tensor => tf.tensor(Array.from({ length: shape.reduce((a, c) => a * c, 1) }, (_, i) => f(i)), shape);
  /** Conv (fwd + both grads), transposed batched matmuls, a 5-D transpose and a softmax. */
  const program = (): Float32Array => tf.tidy(() => {
    const x = fill([2, 12, 12, 16], (i) => Math.sin(i * 0.37)), w = fill([3, 3, 16, 24], (i) => Math.cos(i * 0.11) * 0.1);
    const a = fill([6, 40, 32], (i) => Math.sin(i * 0.05)), b = fill([6, 48, 32], (i) => Math.cos(i * 0.07));
    const [gx, gw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'))))([x, w]);
    const parts = [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'valid'), gx!, gw!, tf.matMul(a, b, false, true), tf.softmax(tf.matMul(a, b, false, true)), tf.matMul(b, b, true, false),
      tf.transpose(fill([2, 16, 3, 4, 8], (i) => i), [2, 0, 3, 1, 4])];
    return Float32Array.from(parts.flatMap((t) => Array.from(t.dataSync())));
  });

  it('starts 2 threads, agrees with cpu, and switches 2 → 1 → 2 threads without leaking tensors', async () => {
    await useBackend('cpu');
    const ref = program();
    await useBackend('wasm', { threads: 2 });
    expect(wasmThreads().actual).toBe(2);
    const before = tf.memory().numTensors;
    const two = program();
    expect(two).toBeAllclose(ref, 1e-5);
    await useBackend('wasm', { threads: 1 });
    expect(wasmThreads().actual).toBe(1);
    expect(program()).toBeAllclose(ref, 1e-5);
    await useBackend('wasm', { threads: 2 });
    expect(wasmThreads().actual).toBe(2);
    expect(program()).toEqual(two);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.skipIf(!haveGolden)('passes the sit_p2 and vae_f8 golden fixtures on 2 threads', async () => {
    await useBackend('wasm', { threads: 2 });
    expect(wasmThreads().actual).toBe(2);
    const before = tf.memory().numTensors;
    const sit = await checkSitFixture({ name: 'sit_p2', dir: goldenDir, ...loadFixture('sit_p2') });
    expect(sit.filter((c) => !c.pass).map((c) => `${c.tensor}: ${c.err} > ${c.tol}`)).toEqual([]);
    expect(sit.length).toBe(88);
    const vae = await checkVaeFixture({ name: 'vae_f8', dir: goldenDir, ...loadFixture('vae_f8') });
    expect(vae.filter((c) => !c.pass).map((c) => `${c.tensor}: ${c.err} > ${c.tol}`)).toEqual([]);
    expect(vae.length).toBeGreaterThanOrEqual(259);
    expect(tf.memory().numTensors).toBe(before);
  }, 900_000);
});
