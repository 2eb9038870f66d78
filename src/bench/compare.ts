/**
 * @file Side-by-side benchmark columns, measured in alternating rounds (A B C A B C …) so that a
 * shared, unevenly loaded machine slows every column alike: tfjs backends (wasm at 1 and N
 * threads, …) run in this process; the official PyTorch step runs through
 * `../shared/perf/torch_step.py` when it and a Python with torch are present. The column list is
 * data: adding a backend is one entry in {@link defaultColumns}.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { numTensors } from '../core/scope.js';
import { availability, backendNames, useBackend, type BackendName } from '../backends/index.js';
import type { BenchSpec, StepBenchConfig } from './cases.js';

/** A column: a tfjs backend (optionally with a thread count: wasm's or libtorch's) or the PyTorch reference. @category utility types */
export type BenchColumn =
  | { readonly kind: 'tfjs'; readonly id: string; readonly label: string; readonly backend: string; readonly threads?: number }
  | { readonly kind: 'pytorch'; readonly id: string; readonly label: string; readonly threads: number };

const threadsLabel = (n: number): string => `${n} thread${n === 1 ? '' : 's'}`;

/**
 * The default columns for `threads` cores: wasm and the libtorch backend at 1 and N threads, and
 * the official PyTorch step at 1 and N threads (each tfjs column is compared with the PyTorch
 * column of the same thread count).
 * @category utility types
 */
export function defaultColumns(threads: number): BenchColumn[] {
  const counts = [...new Set([1, threads])];
  const cols: BenchColumn[] = [
    ...counts.map((n): BenchColumn => ({ kind: 'tfjs', id: `wasm-${n}`, label: `wasm ${threadsLabel(n)}`, backend: 'wasm', threads: n })),
    ...counts.map((n): BenchColumn => ({ kind: 'tfjs', id: `torch-${n}`, label: `torch ${threadsLabel(n)}`, backend: 'torch', threads: n })),
    ...counts.map((n): BenchColumn => ({ kind: 'pytorch', id: `pytorch-${n}`, label: `PyTorch ${threadsLabel(n)}`, threads: n })),
  ];
  return cols;
}

/** Where the PyTorch timing script is, and the Python to run it with. @category utility types */
export interface PytorchSetup {
  readonly python: string;
  readonly script: string;
}

/** Finds the PyTorch reference: undefined and why not when the script or torch is missing. @category utility types */
export async function findPytorch(perfDir: string, python = '/usr/bin/python3'): Promise<{ readonly setup?: PytorchSetup; readonly why?: string }> {
  const script = join(perfDir, 'torch_step.py');
  if (!existsSync(script)) return { why: `no PyTorch reference: ${script} does not exist` };
  if (!existsSync(python)) return { why: `no PyTorch reference: ${python} does not exist` };
  try {
    await run(python, ['-c', 'import torch; print(torch.__version__)'], 120_000);
  } catch (e) {
    return { why: `no PyTorch reference: ${python} cannot import torch (${(e as Error).message.split('\n')[0] ?? ''}; apt-get install python3-torch)` };
  }
  return { setup: { python, script } };
}

function run(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${err.message}${stderr === '' ? '' : `\n${stderr.slice(-2000)}`}`));
      else resolve(stdout);
    });
  });
}

/** One column × case × round: the timed repetitions (ms). */
interface Round { readonly column: string; readonly case: string; readonly round: number; readonly times: readonly number[] }

/** The result of a comparison run. @category utility types */
export interface CompareResult {
  readonly columns: readonly BenchColumn[];
  readonly cases: readonly string[];
  readonly rounds: readonly Round[];
  /** Median over every timed repetition of every round, by `${column}|${case}`. */
  readonly median: ReadonlyMap<string, number>;
  /** Why a column (or column × case) has no numbers. */
  readonly notes: readonly string[];
}

/** Options of {@link runCompare}. @category utility types */
export interface CompareOptions {
  readonly columns: readonly BenchColumn[];
  readonly cases: readonly BenchSpec[];
  /** Step configurations by case name (handed to the PyTorch script as `--config-json`). */
  readonly stepConfigs: ReadonlyMap<string, StepBenchConfig>;
  readonly rounds: number;
  /** Timed repetitions per column × case × round (after one warm-up). */
  readonly reps: number;
  readonly pytorch?: PytorchSetup;
  readonly log?: (s: string) => void;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Times one tfjs case: prepare, one warm-up, `reps` timed runs, dispose; checks for leaks. */
async function timeTfjs(spec: BenchSpec, reps: number): Promise<number[]> {
  const before = numTensors();
  const bc = await spec.prepare();
  try {
    await bc.run();
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const s = performance.now();
      await bc.run();
      times.push(performance.now() - s);
    }
    return times;
  } finally {
    bc.dispose();
    const leaked = numTensors() - before;
    if (leaked !== 0) throw new Error(`${spec.name} left ${leaked} tensor(s) alive`);
  }
}

async function timePytorch(p: PytorchSetup, caseName: string, step: StepBenchConfig | undefined, threads: number, reps: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'repae-torch-'));
  try {
    const out = join(dir, 'r.json');
    const args = [p.script, '--threads', String(threads), '--warmup', '1', '--reps', String(reps), '--out', out,
      ...(step === undefined ? ['--case', caseName] : ['--config-json', JSON.stringify(step)])];
    await run(p.python, args, 900_000);
    const j = JSON.parse(readFileSync(out, 'utf8')) as { times_ms?: number[] };
    if (!Array.isArray(j.times_ms) || j.times_ms.length === 0) throw new Error(`${out}: no times_ms`);
    return j.times_ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs every case on every column, `rounds` times, alternating the columns within each case's
 * round (A B C, A B C, …). A column that cannot run is reported in `notes` and skipped.
 * @category utility types
 */
export async function runCompare(o: CompareOptions): Promise<CompareResult> {
  const log = o.log ?? ((s: string) => console.error(s));
  const notes: string[] = [];
  const usable: BenchColumn[] = [];
  for (const c of o.columns) {
    if (c.kind === 'pytorch') {
      if (o.pytorch === undefined) { notes.push(`${c.label}: skipped (no PyTorch reference here)`); continue; }
    } else {
      if (!(backendNames as readonly string[]).includes(c.backend)) { notes.push(`${c.label}: unknown backend '${c.backend}'`); continue; }
      const a = await availability(c.backend as BackendName);
      if (!a.available) { notes.push(`${c.label}: unavailable (${a.reason})`); continue; }
    }
    usable.push(c);
  }
  const rounds: Round[] = [];
  const failed = new Set<string>();
  for (const spec of o.cases) {
    for (let r = 0; r < o.rounds; r++) {
      for (const c of usable) {
        const key = `${c.id}|${spec.name}`;
        if (failed.has(key)) continue;
        try {
          let times: number[];
          if (c.kind === 'pytorch') times = await timePytorch(o.pytorch as PytorchSetup, spec.name, o.stepConfigs.get(spec.name), c.threads, o.reps);
          else {
            await useBackend(c.backend as BackendName, c.threads === undefined ? {} : { threads: c.threads });
            times = await timeTfjs(spec, o.reps);
          }
          rounds.push({ column: c.id, case: spec.name, round: r, times });
          log(`round ${r + 1}/${o.rounds}  ${c.label.padEnd(18)} ${spec.name.padEnd(18)} ${median(times).toFixed(1).padStart(9)} ms (median of ${times.length})`);
        } catch (e) {
          failed.add(key);
          const lines = (e as Error).message.split('\n').filter((l) => l.trim() !== '');
          const first = lines[0] ?? '', last = lines.length > 1 ? ` … ${lines[lines.length - 1] ?? ''}` : '';
          notes.push(`${c.label} ${spec.name}: failed (${first.slice(0, 200)}${last})`);
        }
      }
    }
  }
  const med = new Map<string, number>();
  for (const c of usable) for (const s of o.cases) {
    const ts = rounds.filter((x) => x.column === c.id && x.case === s.name).flatMap((x) => x.times);
    if (ts.length > 0) med.set(`${c.id}|${s.name}`, median(ts));
  }
  return { columns: usable, cases: o.cases.map((c) => c.name), rounds, median: med, notes };
}

/**
 * The comparison as a Markdown table: median ms per column, then the ratios of the first column
 * to each other tfjs column (speed-up over the zero-install default) and of each tfjs column to
 * the PyTorch column with the same thread count (every PyTorch column when none matches).
 * @category utility types
 */
export function compareTable(r: CompareResult): string {
  const tfjs = r.columns.filter((c) => c.kind === 'tfjs'), torch = r.columns.filter((c) => c.kind === 'pytorch');
  const first = tfjs[0];
  const peers = (c: BenchColumn): BenchColumn[] => {
    const same = torch.filter((t) => t.kind === 'pytorch' && c.kind === 'tfjs' && t.threads === c.threads);
    return same.length > 0 ? same : torch;
  };
  const ratioCols: { readonly head: string; readonly num: BenchColumn; readonly den: BenchColumn }[] = [
    ...(first === undefined ? [] : tfjs.slice(1).map((c) => ({ head: `${first.id} / ${c.id}`, num: first, den: c }))),
    ...tfjs.flatMap((c) => peers(c).map((t) => ({ head: `${c.id} / ${t.id}`, num: c, den: t }))),
  ];
  const head = ['case', ...r.columns.map((c) => `${c.label} (ms)`), ...ratioCols.map((x) => x.head)];
  const rows = r.cases.map((name) => {
    const ms = (c: BenchColumn): number | undefined => r.median.get(`${c.id}|${name}`);
    return [name, ...r.columns.map((c) => ms(c)?.toFixed(1) ?? '–'), ...ratioCols.map((x) => {
      const a = ms(x.num), b = ms(x.den);
      return a === undefined || b === undefined ? '–' : `${(a / b).toFixed(2)}×`;
    })];
  });
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((x) => `| ${x.join(' | ')} |`)].join('\n');
}
