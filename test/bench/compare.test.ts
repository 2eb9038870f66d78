/** `repae bench` side by side: alternating rounds over data-driven columns, ratios, and the PyTorch column's absence explained. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, expect, it } from 'vitest';
import { setDefaultThreads, useBackend } from '../../src/backends/index.js';
import { matmulCase } from '../../src/bench/cases.js';
import { compareTable, defaultColumns, runCompare } from '../../src/bench/compare.js';
import { repae } from '../cli/run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'repae-compare-'));
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); setDefaultThreads(undefined); });

it('the default columns are wasm, torch and PyTorch at 1 and N threads (deduplicated for N = 1)', () => {
  expect(defaultColumns(4).map((c) => c.id)).toEqual(['wasm-1', 'wasm-4', 'torch-1', 'torch-4', 'pytorch-1', 'pytorch-4']);
  expect(defaultColumns(1).map((c) => c.id)).toEqual(['wasm-1', 'torch-1', 'pytorch-1']);
});

it('each tfjs column is compared with the PyTorch column of the same thread count', () => {
  const cols = defaultColumns(2);
  const median = new Map<string, number>(cols.map((c, i) => [`${c.id}|m`, 10 * (i + 1)]));
  const table = compareTable({ columns: cols, cases: ['m'], rounds: [], median, notes: [] });
  const cells = (line: string | undefined): string[] => (line ?? '').split('|').map((c) => c.trim()).slice(1, -1);
  const head = cells(table.split('\n')[0]);
  expect(head).toContain('torch-2 / pytorch-2');
  expect(head).toContain('wasm-1 / pytorch-1');
  expect(head).not.toContain('torch-2 / pytorch-1');
  const row = cells(table.split('\n')[2]);
  // torch-2 is the 4th column (40 ms), pytorch-2 the 6th (60 ms)
  expect(row[head.indexOf('torch-2 / pytorch-2')]).toBe(`${(40 / 60).toFixed(2)}×`);
});

it('alternates the columns within each round (A B A B), takes medians, prints ratios, leaks nothing', async () => {
  await useBackend('wasm', { threads: 1 });
  const before = tf.memory().numTensors;
  const cols = [...defaultColumns(2).slice(0, 2), { kind: 'tfjs' as const, id: 'nope', label: 'no such backend', backend: 'tpu' }];
  const r = await runCompare({ columns: cols, cases: [matmulCase(48)], stepConfigs: new Map(), rounds: 2, reps: 2, log: () => undefined });
  expect(r.rounds.map((x) => `${x.round}:${x.column}`)).toEqual(['0:wasm-1', '0:wasm-2', '1:wasm-1', '1:wasm-2']);
  expect(r.rounds.every((x) => x.times.length === 2)).toBe(true);
  expect(r.notes).toEqual(["no such backend: unknown backend 'tpu'"]);
  const table = compareTable(r);
  const row = table.split('\n').find((l) => l.startsWith('| matmul-48 |')) ?? '';
  const [a, b] = [r.median.get('wasm-1|matmul-48') as number, r.median.get('wasm-2|matmul-48') as number];
  expect(row).toContain(`| ${(a / b).toFixed(2)}× |`);
  expect(table.split('\n')[0]).toBe('| case | wasm 1 thread (ms) | wasm 2 threads (ms) | wasm-1 / wasm-2 |');
  expect(tf.memory().numTensors).toBe(before);
});

it('repae bench (no --backends) writes the table; without the PyTorch script it says so', async () => {
  const out = join(tmp, 'r.json');
  const r = await repae('bench', '--threads', '2', '--columns', 'wasm-1,wasm-2,pytorch-2', '--cases', 'matmul-32', '--rounds', '1', '--reps', '1', '--perf-dir', join(tmp, 'none'), '--out', out);
  expect(r.code, r.err).toBe(0);
  expect(r.out).toMatch(/^\| matmul-32 \| [\d.]+ \| [\d.]+ \| [\d.]+× \|$/m);
  expect(r.out).toContain('PyTorch 2 threads: skipped (no PyTorch reference here)');
  expect(r.out).toMatch(/no PyTorch reference: .*torch_step\.py does not exist/);
  const j = JSON.parse(readFileSync(out, 'utf8')) as { rounds: unknown[]; loadBefore: string };
  expect(j.rounds).toHaveLength(2);
  expect(j.loadBefore).toMatch(/^load average /);
  expect((await repae('bench', '--columns', 'wasm-9')).err).toContain("--columns: unknown column 'wasm-9'");
});
