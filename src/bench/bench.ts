/**
 * @file The benchmark runner: for each backend and case, one warm-up repetition (excluded from the
 * timings; its tfjs profile gives the peak live tensors and bytes), then up to N timed repetitions
 * within a time budget, reported as the median; optional PyTorch reference numbers as ratios.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { activeBackend, useBackend, type BackendName } from '../backends/index.js';
import type { BenchSpec } from './cases.js';

/** The measurements of one case on one backend. @category utility types */
export interface BenchResult {
  readonly case: string;
  readonly backend: string;
  readonly description: string;
  /** Median wall time of the timed repetitions (ms); warm-up excluded. */
  readonly msMedian: number;
  readonly msMin: number;
  readonly msMax: number;
  /** `1000 / msMedian`. */
  readonly perSecond: number;
  /** Timed repetitions actually run (≤ requested, limited by the time budget; ≥ 1). */
  readonly reps: number;
  /** Warm-up repetition time (ms), including kernel compilation / first-call costs. */
  readonly warmupMs: number;
  /** Peak live tensors and bytes during the (profiled) warm-up repetition. */
  readonly peakTensors: number;
  readonly peakBytes: number;
  /** tfjs kernel calls in the (profiled) warm-up repetition (each costs engine and backend dispatch overhead). */
  readonly kernelCalls: number;
  /** Live tensors and bytes after preparing the case (inputs and parameters). */
  readonly baseTensors: number;
  readonly baseBytes: number;
  readonly gflops?: number;
  readonly itemsPerSecond?: number;
  /** PyTorch reference (ms) and `ours / reference` when a reference exists. */
  readonly referenceMs?: number;
  readonly referenceSource?: string;
  readonly ratio?: number;
}

/** A case that did not run on a backend, and why. @category utility types */
export interface BenchSkip {
  readonly case: string;
  readonly backend: string;
  readonly reason: string;
}

/** Options of {@link runBench}. @category utility types */
export interface BenchOptions {
  readonly backends: readonly BackendName[];
  readonly cases: readonly BenchSpec[];
  /** Timed repetitions per case (default 5). */
  readonly reps?: number;
  /** Stop adding repetitions once a case's timed total passes this (default 20 s). */
  readonly budgetMs?: number;
  /** Why `heavy` cases are skipped on a backend (undefined: they run). Default: skipped on `cpu`. */
  readonly skipHeavy?: (backend: BackendName) => string | undefined;
  /** Reference numbers by case name. */
  readonly reference?: ReadonlyMap<string, { readonly ms: number; readonly source: string }>;
  readonly log?: (s: string) => void;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/**
 * Runs every case on every backend (see the file comment). `heavy` cases are skipped where
 * `skipHeavy` gives a reason (default: on the pure-JS `cpu` backend, ≈20× slower than wasm). Each
 * case must leave the live tensor count as it found it; a leak is reported in `skipped`.
 * @category utility types
 */
export async function runBench(o: BenchOptions): Promise<{ readonly results: BenchResult[]; readonly skipped: BenchSkip[] }> {
  const log = o.log ?? ((s: string) => console.error(s));
  const results: BenchResult[] = [];
  const skipped: BenchSkip[] = [];
  const reps = o.reps ?? 5, budget = o.budgetMs ?? 20_000;
  for (const backend of o.backends) {
    try {
      await useBackend(backend);
    } catch (e) {
      for (const c of o.cases) skipped.push({ case: c.name, backend, reason: (e as Error).message });
      continue;
    }
    for (const spec of o.cases) {
      const why = spec.heavy === true ? (o.skipHeavy ?? ((b) => (b === 'cpu' ? 'pure-JS reference backend' : undefined)))(backend) : undefined;
      if (why !== undefined) {
        skipped.push({ case: spec.name, backend, reason: `skipped: ${why} (run it with --heavy-everywhere)` });
        continue;
      }
      const before = tf.memory().numTensors;
      let bc;
      try {
        bc = await spec.prepare();
      } catch (e) {
        skipped.push({ case: spec.name, backend, reason: `prepare failed: ${(e as Error).message.split('\n')[0] ?? ''}` });
        continue;
      }
      try {
        const base = tf.memory();
        const t0 = performance.now();
        const prof = await tf.profile(() => bc.run());
        const warmupMs = performance.now() - t0;
        const peakTensors = Math.max(base.numTensors, ...prof.kernels.map((k) => k.totalTensorsSnapshot));
        const peakBytes = Math.max(prof.peakBytes, base.numBytes);
        const times: number[] = [];
        let total = 0;
        while (times.length < reps && (times.length === 0 || total < budget)) {
          const s = performance.now();
          await bc.run();
          const dt = performance.now() - s;
          times.push(dt);
          total += dt;
        }
        const ms = median(times);
        const ref = o.reference?.get(spec.name);
        const r: BenchResult = {
          case: spec.name, backend: activeBackend(), description: spec.description,
          msMedian: ms, msMin: Math.min(...times), msMax: Math.max(...times), perSecond: 1000 / ms, reps: times.length, warmupMs,
          peakTensors, peakBytes, kernelCalls: prof.kernels.length, baseTensors: base.numTensors, baseBytes: base.numBytes,
          ...(spec.flops === undefined ? {} : { gflops: spec.flops / (ms * 1e6) }),
          ...(spec.items === undefined ? {} : { itemsPerSecond: (spec.items * 1000) / ms }),
          ...(ref === undefined ? {} : { referenceMs: ref.ms, referenceSource: ref.source, ratio: ms / ref.ms }),
        };
        results.push(r);
        log(`${backend.padEnd(7)} ${spec.name.padEnd(18)} ${ms.toFixed(1).padStart(9)} ms (median of ${times.length}; warm-up ${warmupMs.toFixed(0)} ms)`);
      } catch (e) {
        skipped.push({ case: spec.name, backend, reason: `failed: ${(e as Error).message.split('\n')[0] ?? ''}` });
      } finally {
        bc.dispose();
      }
      const leaked = tf.memory().numTensors - before;
      if (leaked !== 0) skipped.push({ case: spec.name, backend, reason: `note: ${leaked} tensor(s) left alive after the case` });
    }
  }
  return { results, skipped };
}

/**
 * Reads PyTorch reference timings from a folder of JSON files. Accepted shapes, per file:
 * `{ "<case>": { "ms": 12.3 } }`, `{ "<case>": 12.3 }` (ms), `{ "results": [{ "case": "<case>", "ms": 12.3 }] }`;
 * `ms_per_step`/`msMedian`/`median_ms` are read as `ms`, `steps_per_s` as `1000/ms`. Returns an
 * empty map (and the reason) when the folder does not exist.
 * @category utility types
 */
export function readReference(dir: string): { readonly map: Map<string, { ms: number; source: string }>; readonly note: string } {
  const map = new Map<string, { ms: number; source: string }>();
  if (!existsSync(dir)) return { map, note: `no PyTorch reference numbers: ${dir} does not exist` };
  const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const msOf = (v: unknown): number | undefined => {
    if (typeof v === 'number') return v;
    if (typeof v !== 'object' || v === null) return undefined;
    const o = v as Record<string, unknown>;
    for (const k of ['ms', 'ms_per_step', 'msMedian', 'median_ms', 'ms_median']) if (typeof o[k] === 'number') return o[k] as number;
    for (const k of ['steps_per_s', 'per_second', 'perSecond']) if (typeof o[k] === 'number' && (o[k] as number) > 0) return 1000 / (o[k] as number);
    return undefined;
  };
  for (const f of files) {
    let j: unknown;
    try {
      j = JSON.parse(readFileSync(join(dir, f), 'utf8'));
    } catch {
      continue;
    }
    const put = (name: unknown, v: unknown): void => {
      const ms = msOf(v);
      if (typeof name === 'string' && ms !== undefined && ms > 0) map.set(name, { ms, source: `${f}:${name}` });
    };
    if (typeof j === 'object' && j !== null) {
      const o = j as Record<string, unknown>;
      if (Array.isArray(o['results'])) for (const r of o['results'] as unknown[]) put((r as Record<string, unknown>)?.['case'] ?? (r as Record<string, unknown>)?.['name'], r);
      for (const [k, v] of Object.entries(o)) if (k !== 'results') put(k, v);
    }
  }
  return { map, note: map.size === 0 ? `no usable reference entries in ${dir} (${files.length} JSON file(s))` : `${map.size} reference entr${map.size === 1 ? 'y' : 'ies'} from ${dir}` };
}
