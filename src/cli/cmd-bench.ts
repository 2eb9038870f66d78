/** @file `repae bench` (`npm run bench`): REPA-E step, 1024² matmul and SiT-S/2 block timings per backend → table + bench/results.json. */
import { mkdirSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { available, backendNames, explicitThreads, type BackendName } from '../backends/index.js';
import { writeFileAtomic } from '../io/atomic.js';
import { numberFlag, parseArgs, stringFlag, switchFlag, UsageError } from './args.js';
import { checkOutput } from './errors.js';
import { intFlag } from './gen-common.js';
import { formatDuration } from './progress.js';
import { readReference, runBench, type BenchResult } from '../bench/bench.js';
import { defaultCases, matmulCase, SMALL_STEP, STEP_64PX, TINY_STEP } from '../bench/cases.js';
import { compareTable, defaultColumns, findPytorch, runCompare } from '../bench/compare.js';

/** The project root (two levels above this file; the working directory when bundled). */
const repoRoot = (): string => (typeof import.meta.dirname === 'string' ? resolve(import.meta.dirname, '..', '..') : process.cwd());

/** Usage text of `repae bench`. @category utility types */
export const BENCH_USAGE = `usage: repae bench [flags]        (npm run bench)

Default (no --backends): side-by-side columns wasm 1 thread | wasm N threads | the official PyTorch
step at N threads (<perf-dir>/torch_step.py, when it and python3 with torch are present), measured
in alternating rounds (A B C A B C …), one warm-up per column × case × round, median ms over all
timed repetitions, and ratios per case (wasm-1 / wasm-N, wasm / PyTorch). N: --threads (default
REPAE_THREADS, else the cores, at most 8, whatever the load). Prints the load average before and after.

With --backends: times, on each listed backend: one REPA-E step (repaeStep: VAE, discriminator and SiT updates
plus EMA, random-init models) at a tiny and a small configuration, a 1024² float32 matmul, and one
SiT-S/2 block forward + backward (hidden 384, 256 tokens, batch 8). Per case: one warm-up
repetition (excluded; its profile gives the peak live tensors/bytes), then the median of up to
--reps timed repetitions within --budget-s. Prints steps/s, ms/step, peak tf.memory() numTensors
and numBytes, and PyTorch reference ratios when <perf-dir> has them; writes JSON.

flags:
  --threads N       N of the side-by-side columns (wasm N threads, PyTorch N threads)
  --columns LIST    comma list of column ids (default: all of wasm-1, wasm-N, pytorch-N)
  --rounds R        alternating rounds (default 2)
  --python FILE     the Python to run the PyTorch step with (default /usr/bin/python3)
  --backends LIST   the per-backend mode instead: comma list of ${backendNames.join(', ')}
  --cases LIST      comma list of repae-step-tiny, repae-step-small, matmul-1024, sit-s2-block
                    (default all; matmul-N for another size)
  --reps N          timed repetitions per case (default 5)
  --budget-s S      stop adding repetitions once a case's timed total passes S seconds (default 15)
  --heavy-everywhere  also run the REPA-E steps and the SiT block on slow backends: the pure-JS
                    cpu backend and WebGPU on a software adapter (llvmpipe/lavapipe/SwiftShader),
                    where they are skipped by default to keep a run to a few minutes
  --perf-dir DIR    PyTorch reference numbers (default ../shared/perf; JSON { "<case>": { "ms": … } })
  --out FILE        JSON output (default bench/results.json)
  --force           overwrite an existing --out file (default: refuse, before timing anything)`;

const fmtBytes = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

/** Renders results as a text table. @category utility types */
export function benchTable(rs: readonly BenchResult[]): string {
  const head = ['backend', 'case', 'ms/it', 'it/s', 'reps', 'peak tensors', 'peak bytes', 'GFLOP/s', 'vs PyTorch'];
  const rows = rs.map((r) => [
    r.backend, r.case, r.msMedian.toFixed(1), r.perSecond >= 10 ? r.perSecond.toFixed(1) : r.perSecond.toFixed(3), String(r.reps), String(r.peakTensors), fmtBytes(r.peakBytes),
    r.gflops === undefined ? '' : r.gflops.toFixed(1), r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}× (${r.referenceMs?.toFixed(1)} ms)`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (c: readonly string[]): string => c.map((x, i) => (i >= 2 && i <= 7 ? x.padStart(w[i] as number) : x.padEnd(w[i] as number))).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

/** Implements `repae bench`. @category utility types */
export async function benchCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(BENCH_USAGE);
    return 0;
  }
  const p = parseArgs(argv, ['backends', 'cases', 'reps', 'budget-s', 'perf-dir', 'out', 'columns', 'rounds', 'python'], ['heavy-everywhere', 'force']);
  if (p.positional.length > 0) throw new UsageError(`unexpected argument '${p.positional[0]}' (see repae bench --help)`);
  const out = stringFlag(p, 'out', join(repoRoot(), 'bench', 'results.json'));
  checkOutput(out, switchFlag(p, 'force'), 'out');
  const avail = await available();
  if (!p.flags.has('backends')) return compareCommand(p);
  let backends: BackendName[];
  if (p.flags.has('backends')) {
    backends = stringFlag(p, 'backends', '').split(',').filter(Boolean) as BackendName[];
    for (const b of backends) if (!backendNames.includes(b)) throw new UsageError(`--backends: unknown backend '${b}' (choose from ${backendNames.join(', ')})`);
  } else backends = avail.filter((a) => a.available).map((a) => a.name);
  const all = defaultCases();
  let cases = all;
  if (p.flags.has('cases')) {
    const names = stringFlag(p, 'cases', '').split(',').filter(Boolean);
    cases = names.map((n) => {
      const size = /^matmul-(\d+)$/.exec(n);
      const c = all.find((x) => x.name === n) ?? (size !== null && Number(size[1]) >= 1 ? matmulCase(Number(size[1])) : undefined);
      if (c === undefined) throw new UsageError(`--cases: unknown case '${n}' (choose from ${all.map((x) => x.name).join(', ')}, or matmul-N)`);
      return c;
    });
  }
  const reps = intFlag(p, 'reps', 5);
  const budget = numberFlag(p, 'budget-s', 15);
  if (!(budget > 0)) throw new UsageError(`--budget-s expects a positive number, got ${budget}`);
  const perfDir = stringFlag(p, 'perf-dir', join(repoRoot(), '..', 'shared', 'perf'));
  const ref = readReference(perfDir);

  console.error(`bench: backends ${backends.join(', ')}; ${cases.length} case(s); ${cpus().length} CPU core(s); ${ref.note}`);
  for (const a of avail) if (!a.available) console.error(`  ${a.name}: unavailable (${a.reason})`);
  const t0 = performance.now();
  const everywhere = p.flags.get('heavy-everywhere') === true;
  const software = /llvmpipe|lavapipe|swiftshader|software/i;
  const skipHeavy = (b: BackendName): string | undefined => {
    if (everywhere) return undefined;
    if (b === 'cpu') return 'pure-JS reference backend (≈20× slower than wasm)';
    const a = avail.find((x) => x.name === b);
    if (b === 'webgpu' && a !== undefined && a.available && software.test(a.detail)) return `WebGPU on a software adapter (${a.detail.split(';')[0] ?? ''})`;
    return undefined;
  };
  const { results, skipped } = await runBench({ backends, cases, reps, budgetMs: budget * 1000, skipHeavy, reference: ref.map });
  console.log('');
  for (const c of cases) console.log(`${c.name}: ${c.description}`);
  console.log('');
  console.log(benchTable(results));
  for (const s of skipped) console.log(`  ${s.backend} ${s.case}: ${s.reason}`);
  console.log(ref.map.size === 0 ? `\n${ref.note}; no ratios printed.` : `\nratios are ours/PyTorch median ms (${ref.note}).`);
  console.log(`total ${formatDuration((performance.now() - t0) / 1000)}`);
  mkdirSync(dirname(out), { recursive: true });
  const doc = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '',
    backends: avail.map((a) => (a.available ? { name: a.name, available: true, detail: a.detail } : { name: a.name, available: false, reason: a.reason })),
    cases: cases.map((c) => ({ name: c.name, description: c.description, ...(c.flops === undefined ? {} : { flops: c.flops }), ...(c.items === undefined ? {} : { items: c.items }) })),
    protocol: { warmup: 1, reps, budgetSeconds: budget, statistic: 'median' },
    reference: { dir: perfDir, note: ref.note },
    results,
    skipped,
  };
  writeFileAtomic(out, new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`));
  console.log(`wrote ${out}`);
  return 0;
}

const loadLine = (): string => `load average ${loadavg().map((x) => x.toFixed(2)).join(', ')} (1, 5, 15 min) on ${cpus().length} core(s)`;

/** `repae bench` without `--backends`: the alternating side-by-side columns. */
async function compareCommand(p: ReturnType<typeof parseArgs>): Promise<number> {
  const all = defaultCases();
  const names = p.flags.has('cases') ? stringFlag(p, 'cases', '').split(',').filter(Boolean) : all.map((c) => c.name);
  const cases = names.map((n) => {
    const size = /^matmul-(\d+)$/.exec(n);
    const c = all.find((x) => x.name === n) ?? (size !== null && Number(size[1]) >= 1 ? matmulCase(Number(size[1])) : undefined);
    if (c === undefined) throw new UsageError(`--cases: unknown case '${n}' (choose from ${all.map((x) => x.name).join(', ')}, or matmul-N)`);
    return c;
  });
  const threads = explicitThreads() ?? Math.min(availableParallelism(), 8);
  const known = defaultColumns(threads);
  const ids = p.flags.has('columns') ? stringFlag(p, 'columns', '').split(',').filter(Boolean) : known.map((c) => c.id);
  const columns = ids.map((id) => {
    const c = known.find((x) => x.id === id);
    if (c === undefined) throw new UsageError(`--columns: unknown column '${id}' (choose from ${known.map((x) => x.id).join(', ')}; N follows --threads)`);
    return c;
  });
  const reps = intFlag(p, 'reps', 3), rounds = intFlag(p, 'rounds', 2);
  const perfDir = stringFlag(p, 'perf-dir', join(repoRoot(), '..', 'shared', 'perf'));
  const out = stringFlag(p, 'out', join(repoRoot(), 'bench', 'results.json'));
  const torch = columns.some((c) => c.kind === 'pytorch') ? await findPytorch(perfDir, stringFlag(p, 'python', '/usr/bin/python3')) : {};
  const startLoad = loadLine();
  console.error(`bench: columns ${columns.map((c) => c.label).join(' | ')}; ${cases.length} case(s) × ${rounds} alternating round(s) × ${reps} rep(s); ${startLoad}`);
  if (torch.why !== undefined) console.error(torch.why);
  const t0 = performance.now();
  const steps = new Map([TINY_STEP, SMALL_STEP, STEP_64PX].map((s) => [s.name, s]));
  const r = await runCompare({ columns, cases, stepConfigs: steps, rounds, reps, ...(torch.setup === undefined ? {} : { pytorch: torch.setup }) });
  const endLoad = loadLine();
  const table = compareTable(r);
  console.log('');
  for (const c of cases) console.log(`${c.name}: ${c.description}`);
  console.log('');
  console.log(table);
  for (const n of r.notes) console.log(`  ${n}`);
  if (torch.why !== undefined) console.log(`  ${torch.why}`);
  console.log(`\n${new Date().toISOString()}; before: ${startLoad}; after: ${endLoad}; total ${formatDuration((performance.now() - t0) / 1000)}`);
  mkdirSync(dirname(out), { recursive: true });
  const doc = {
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '',
    loadBefore: startLoad, loadAfter: endLoad, protocol: { mode: 'alternating rounds', rounds, reps, warmupPerRound: 1, statistic: 'median of all timed repetitions' },
    columns: r.columns, cases: cases.map((c) => ({ name: c.name, description: c.description })),
    median: Object.fromEntries(r.median), rounds: r.rounds, notes: r.notes, table,
  };
  writeFileAtomic(out, new TextEncoder().encode(`${JSON.stringify(doc, null, 2)}\n`));
  console.log(`wrote ${out}`);
  return 0;
}
