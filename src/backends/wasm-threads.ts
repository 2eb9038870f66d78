/**
 * @file Threads for tfjs-backend-wasm under Node.
 *
 * tfjs-backend-wasm 4.22 never uses its threaded SIMD build in Node: the `WASM_HAS_MULTITHREAD_SUPPORT`
 * flag returns false when `IS_NODE` (tfjs#3830), and the build starts its pthread workers from
 * `blob:` URLs, which Node's `worker_threads` cannot load. This module loads the package's Node
 * bundle from its own file with a few textual patches applied in memory (nothing on disk under
 * node_modules changes) and puts it into the CommonJS module cache, so `import
 * '@tensorflow/tfjs-backend-wasm'` afterwards gets the patched module:
 *  - the pthread worker script and the threaded factory (prefixed with the bundler's `require$$N`
 *    aliases and TypeScript helpers it references) are written to files in a cache directory and
 *    passed to the workers as paths;
 *  - the worker pool size and the core count the C++ side divides by 2 follow the requested thread
 *    count (the compiled-in limit of 8 threads stays);
 *  - running pthread workers are not `ref()`ed, so a finished program exits even though XNNPACK's
 *    pool threads are parked (no leaked workers keep the process alive; `process.exit`, errors and
 *    signals end them with the process), and {@link shutdownWasmThreads} terminates them explicitly.
 * With 1 thread the flag stays false and tfjs uses its single-threaded SIMD build, as before.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as nodeModule from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';

/** The compiled-in upper limit of the threaded build (its C++ side caps XNNPACK's pool at 8 threads). @category backends */
export const WASM_MAX_THREADS = 8;

/** Shared with the patched bundle through a global symbol (the bundle is plain CommonJS text). */
interface Hooks {
  /** Threads of the next backend initialisation (pool size; the core count reported is twice it). */
  threads: number;
  readonly workerFile: string;
  /** Writes (once) the threaded factory as a script the workers can load; returns its path. */
  readonly mainScript: (factorySource: string) => string;
  /** The Emscripten module objects created so far (for {@link shutdownWasmThreads}). */
  readonly modules: EmscriptenModule[];
}

interface PThreadWorker { terminate(): unknown }
interface EmscriptenModule {
  readonly PThread?: { readonly unusedWorkers: PThreadWorker[]; readonly runningWorkers: PThreadWorker[]; terminateAllThreads(): void };
}
interface WasmPackage {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

const HOOKS = Symbol.for('repae.wasmThreads');
const require = createRequire(import.meta.url);

/**
 * Parses a thread count (an integer ≥ 1); the error names where the value came from.
 * @category backends
 */
export function parseThreads(value: string | number, source: string): number {
  const n = typeof value === 'number' ? value : Number(value.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`${source} expects an integer ≥ 1 (wasm threads), got '${String(value)}'`);
  return n;
}

/**
 * The default wasm thread count: `REPAE_THREADS` when set, else the cores available to this process
 * (`os.availableParallelism()`) less those the 1-minute load average says other programs keep busy
 * (rounded; at least 1, at most {@link WASM_MAX_THREADS}). XNNPACK's pool threads spin while they
 * wait, so on an oversubscribed machine more threads are slower: a REPA-E step measured 3× slower
 * on 2 threads than on 1 with the load average at 15 on 2 cores.
 * @category backends
 */
export function defaultThreads(): number {
  const env = process.env['REPAE_THREADS'];
  if (env !== undefined && env.trim() !== '') return Math.min(parseThreads(env, 'REPAE_THREADS'), WASM_MAX_THREADS);
  const cores = availableParallelism();
  const idle = Math.round(cores - (loadavg()[0] ?? 0));
  return Math.max(1, Math.min(cores, idle, WASM_MAX_THREADS));
}

/** The textual patches: [what, replacement]; each must match exactly once. */
function patches(): readonly (readonly [string, string])[] {
  const h = `globalThis[Symbol.for('repae.wasmThreads')]`;
  return [
    // The pthread worker script: a file instead of a blob: URL.
    [`var blob = new Blob([response], { type: 'application/javascript' });`,
      `if (${h}) return ${h}.workerFile; var blob = new Blob([response], { type: 'application/javascript' });`],
    // The main script each worker evaluates: a file instead of a Blob.
    [`factoryConfig.mainScriptUrlOrBlob = new Blob(`,
      `factoryConfig.mainScriptUrlOrBlob = ${h} ? ${h}.mainScript(wasmFactoryThreadedSimd.toString()) : new Blob(`],
    [`var pthreadPoolSize = 8;`, `var pthreadPoolSize = ${h} ? ${h}.threads : 8; ${h} && ${h}.modules.push(Module);`],
    [`return require$$4.cpus().length;`, `return ${h} ? 2 * ${h}.threads : require$$4.cpus().length;`],
    [`worker.ref();`, `if (!${h}) worker.ref();`],
  ];
}

/** The bundle's helpers the threaded factory refers to outside its own text (for the worker prelude). */
function workerPrelude(src: string, mainFile: string): string {
  const start = src.indexOf('var extendStatics');
  const spread = src.indexOf('function __spreadArray');
  const end = src.indexOf('\n}\n', spread);
  if (start < 0 || spread < 0 || end < 0) throw new Error('tfjs-backend-wasm: unexpected bundle layout (TypeScript helpers not found)');
  return [
    `var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), require$$4 = require('os');`,
    `var commonjsGlobal = globalThis; var _scriptDir = ${JSON.stringify(mainFile)};`,
    src.slice(start, end + 3),
  ].join('\n');
}

/** Writes `text` to `file` unless it exists (atomically: concurrent processes may race). */
function writeOnce(file: string, text: string): void {
  if (existsSync(file)) return;
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

let installed: { readonly pkg: WasmPackage; readonly hooks: Hooks; readonly cacheDir: string } | undefined;
let configured: number | undefined;

/**
 * Loads the patched tfjs-backend-wasm into Node's module cache (idempotent). Must run before
 * anything else loads the package; afterwards `import('@tensorflow/tfjs-backend-wasm')` returns
 * it. Returns the cache directory holding the generated worker scripts.
 * @category backends
 */
export function installWasmThreads(): string {
  if (installed !== undefined) return installed.cacheDir;
  const file = require.resolve('@tensorflow/tfjs-backend-wasm');
  const cjs = require.cache[file];
  if (cjs !== undefined) throw new Error(`tfjs-backend-wasm was loaded before the wasm thread support (${file}); load src/backends first`);
  let src = readFileSync(file, 'utf8');
  const version = (JSON.parse(readFileSync(join(dirname(file), '..', 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  const cacheDir = join(tmpdir(), `repae-wasm-threads-${version}-${createHash('sha256').update(src).digest('hex').slice(0, 12)}`);
  mkdirSync(cacheDir, { recursive: true });
  const wc = /var wasmWorkerContents = (".*");\n/.exec(src);
  if (wc === null) throw new Error('tfjs-backend-wasm: unexpected bundle layout (worker script not found)');
  const workerFile = join(cacheDir, 'tfjs-backend-wasm-threaded-simd.worker.js');
  // As the bundle does for its Blob: keep the script's "\n" escapes inside string literals.
  writeOnce(workerFile, (JSON.parse(wc[1] as string) as string).replace(/\n/g, '\\n'));
  const mainFile = join(cacheDir, 'tfjs-backend-wasm-threaded-simd.main.js');
  const prelude = workerPrelude(src, mainFile);
  for (const [from, to] of patches()) {
    const at = src.indexOf(from);
    if (at < 0 || src.indexOf(from, at + 1) >= 0) throw new Error(`tfjs-backend-wasm: patch target not found exactly once: ${from}`);
    src = src.slice(0, at) + to + src.slice(at + from.length);
  }
  const hooks: Hooks = {
    threads: 1, workerFile, modules: [],
    mainScript: (factory) => {
      writeOnce(mainFile, `${prelude}\nvar WasmBackendModuleThreadedSimd = ${factory};\n`);
      return mainFile;
    },
  };
  (globalThis as Record<symbol, unknown>)[HOOKS] = hooks;
  const Mod = nodeModule.Module as unknown as new (id: string) => { filename: string; paths: string[]; loaded: boolean; exports: unknown; _compile(src: string, file: string): void };
  const nodePaths = (nodeModule.Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths;
  const m = new Mod(file);
  m.filename = file;
  m.paths = nodePaths(dirname(file));
  (require.cache as Record<string, unknown>)[file] = m;
  try {
    m._compile(src, file);
  } catch (e) {
    delete require.cache[file];
    throw e;
  }
  m.loaded = true;
  installed = { pkg: m.exports as WasmPackage, hooks, cacheDir };
  return cacheDir;
}

/**
 * Sets the thread count the wasm backend initialises with (1: the single-threaded SIMD build; more:
 * the threaded SIMD build, at most {@link WASM_MAX_THREADS}). When the wasm backend is already
 * initialised with another count it is re-created (its tensors are lost, its workers terminated).
 * Returns the count that will be used, and whether the backend was re-created.
 * @category backends
 */
export function configureWasmThreads(threads: number): { readonly threads: number; readonly recreated: boolean } {
  installWasmThreads();
  const n = Math.min(parseThreads(threads, 'threads'), WASM_MAX_THREADS);
  const { pkg, hooks } = installed as NonNullable<typeof installed>;
  const engine = tf.engine() as unknown as { registry: Record<string, unknown>; registryFactory: Record<string, { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number }> };
  let recreated = false;
  if (engine.registry['wasm'] !== undefined && configured !== n) {
    const entry = engine.registryFactory['wasm'];
    if (entry === undefined) throw new Error('wasm backend factory is missing');
    tf.removeBackend('wasm');
    shutdownWasmThreads();
    tf.registerBackend('wasm', entry.factory, entry.priority);
    recreated = true;
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', n > 1);
  pkg.setThreadsCount(n);
  hooks.threads = n;
  configured = n;
  return { threads: n, recreated };
}

/** The thread count set by the last {@link configureWasmThreads} (undefined before). @category backends */
export const configuredWasmThreads = (): number | undefined => configured;

/**
 * The threads the initialised wasm backend runs XNNPACK with (undefined before it is initialised or
 * when the patched package is not in use).
 * @category backends
 */
export function wasmThreadCount(): number | undefined {
  if (installed === undefined) return undefined;
  try {
    return installed.pkg.getThreadsCount();
  } catch {
    return undefined;
  }
}

/**
 * Terminates every pthread worker started so far (call only when the wasm backend will not run
 * again in this process, or after removing it). Returns how many workers were terminated.
 * @category backends
 */
export function shutdownWasmThreads(): number {
  if (installed === undefined) return 0;
  let n = 0;
  for (const m of installed.hooks.modules.splice(0)) {
    const pt = m.PThread;
    if (pt === undefined) continue;
    for (const w of [...pt.runningWorkers, ...pt.unusedWorkers]) {
      void w.terminate();
      n++;
    }
    pt.runningWorkers.length = 0;
    pt.unusedWorkers.length = 0;
  }
  return n;
}
