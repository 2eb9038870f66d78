/** `repae bench`: cases, the runner's statistics and memory peaks, reference ratios, the JSON file. */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend, type BackendName } from '../../src/backends/index.js';
import { readReference, runBench } from '../../src/bench/bench.js';
import { matmulCase, SMALL_STEP, TINY_STEP, describeStep } from '../../src/bench/cases.js';
import { testBackends } from '../helpers/backends.js';
import { repae } from './run-cli.js';

const backend = (testBackends.includes('wasm') ? 'wasm' : testBackends[0]) as BackendName;
const tmp = mkdtempSync(join(tmpdir(), 'repae-bench-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('bench reference numbers', () => {
  it('reads the accepted JSON shapes, and says when the folder is missing', () => {
    const dir = join(tmp, 'perf');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ 'matmul-1024': { ms: 2 }, 'sit-s2-block': 10, device: 'H100' }));
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ results: [{ case: 'repae-step-tiny', steps_per_s: 50 }] }));
    const r = readReference(dir);
    expect(Object.fromEntries([...r.map].map(([k, v]) => [k, v.ms]))).toEqual({ 'matmul-1024': 2, 'sit-s2-block': 10, 'repae-step-tiny': 20 });
    expect(readReference(join(tmp, 'none')).note).toContain('does not exist');
  });

  it('describes the step configurations', () => {
    expect(describeStep(TINY_STEP)).toContain('32 px, batch 4');
    expect(describeStep(TINY_STEP)).toContain('(16 tokens)');
    expect(describeStep(SMALL_STEP)).toContain('width 384');
  });
});

describe.runIf(testBackends.length > 0)(`bench runner [${backend}]`, () => {
  beforeAll(() => useBackend(backend));
  it('times a case (median, warm-up excluded), reports peaks, ratios, and frees everything', async () => {
    const before = tf.memory().numTensors;
    const ref = new Map([['matmul-64', { ms: 0.5, source: 'test' }]]);
    const { results, skipped } = await runBench({ backends: [backend], cases: [matmulCase(64)], reps: 3, reference: ref, log: () => undefined });
    expect(skipped).toEqual([]);
    const [r] = results;
    expect(r?.reps).toBe(3);
    expect(r?.peakTensors).toBeGreaterThanOrEqual(3);
    expect(r?.kernelCalls).toBeGreaterThanOrEqual(1);
    expect(r?.baseTensors).toBe(before + 2);
    expect(r?.peakBytes).toBeGreaterThanOrEqual(3 * 64 * 64 * 4);
    expect(r?.ratio).toBeCloseTo((r?.msMedian ?? 0) / 0.5, 9);
    expect(r?.gflops).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('repae bench writes the JSON and prints the table; heavy cases are skipped on cpu', async () => {
    const out = join(tmp, 'results.json');
    const r = await repae('bench', '--backends', `${backend},cpu`, '--cases', 'matmul-128,repae-step-tiny', '--reps', '1', '--out', out, '--perf-dir', join(tmp, 'no-perf'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`^${backend}\\s+matmul-128\\s`, 'm'));
    expect(r.out).toContain('cpu repae-step-tiny: skipped: pure-JS reference backend');
    expect(r.out).toContain('no PyTorch reference numbers');
    const j = JSON.parse(readFileSync(out, 'utf8')) as { results: { case: string; backend: string }[]; protocol: { warmup: number } };
    expect(j.protocol.warmup).toBe(1);
    expect(j.results.map((x) => `${x.backend}:${x.case}`)).toEqual([`${backend}:matmul-128`, `${backend}:repae-step-tiny`, 'cpu:matmul-128']);
  });

  it('names bad flags', async () => {
    let r = await repae('bench', '--cases', 'matmul');
    expect(r.err).toContain("--cases: unknown case 'matmul'");
    r = await repae('bench', '--backends', 'tpu');
    expect(r.err).toContain("--backends: unknown backend 'tpu'");
    r = await repae('bench', '--reps', '0');
    expect(r.err).toContain('--reps expects an integer ≥ 1');
    r = await repae('bench', '--help');
    expect(r.out).toContain('--heavy-everywhere');
  });
});
