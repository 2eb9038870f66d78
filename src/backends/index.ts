/** @file One pluggable backend layer: which tfjs backends can run here, and choosing one. */
import * as tf from '@tensorflow/tfjs-core';
import { patchBackend, registerGradients } from './gradients.js';
import { guardWasmProcessListeners } from './wasm-process.js';

/**
 * The backends repae runs on: `torch` (libtorch/ATen through the native addon, multi-threaded CPU),
 * `torch:cuda` (the same on a CUDA libtorch), `wasm` (XNNPACK, SIMD; one thread), `webgpu`
 * (browser, or Node through Dawn), `tensorflow` (tfjs-node-gpu, CUDA) and `cpu` (pure JS, a slow
 * reference).
 * @category backends
 */
export type BackendName = 'torch:cuda' | 'torch' | 'wasm' | 'webgpu' | 'tensorflow' | 'cpu';

/** All backend names, fastest-first. @category backends */
export const backendNames: readonly BackendName[] = ['torch:cuda', 'tensorflow', 'torch', 'webgpu', 'wasm', 'cpu'];

/** The order {@link useBestBackend} tries by default: GPUs, then libtorch, then wasm, then cpu. @category backends */
export const defaultBackendOrder: readonly BackendName[] = ['torch:cuda', 'tensorflow', 'torch', 'wasm', 'cpu'];

/** Whether a backend can run here, and if not, why. @category backends */
export type Availability =
  | { readonly name: BackendName; readonly available: true; readonly detail: string }
  | { readonly name: BackendName; readonly available: false; readonly reason: string };

const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
const errMsg = (e: unknown): string => (e instanceof Error ? e.message.split('\n')[0] ?? String(e) : String(e));

let webgpuAdapterInfo: string | undefined;
async function probeWebgpu(): Promise<string> {
  if (webgpuAdapterInfo !== undefined) return webgpuAdapterInfo;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  let gpu = nav?.gpu;
  if (gpu === undefined && isNode) {
    process.env['XDG_RUNTIME_DIR'] ??= process.getBuiltinModule('node:os').tmpdir();
    const mod = (await import('webgpu').catch((e: unknown) => {
      throw new Error(`the optional peer dependency 'webgpu' (Dawn for Node) is not installed: npm install webgpu (${errMsg(e)})`);
    })) as unknown as { create: (o: string[]) => GPU; globals: object };
    Object.assign(globalThis, mod.globals);
    gpu = mod.create([]);
    if ((globalThis as { navigator?: object }).navigator === undefined)
      Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
    Object.defineProperty((globalThis as unknown as { navigator: object }).navigator, 'gpu', { value: gpu, configurable: true });
  }
  if (gpu === undefined) throw new Error('navigator.gpu is missing (this browser has no WebGPU; in Chromium start with --enable-unsafe-webgpu)');
  const adapter = await gpu.requestAdapter();
  if (adapter === null)
    throw new Error(
      'no WebGPU adapter (on a CPU-only Linux machine install mesa-vulkan-drivers and libvulkan1 from bookworm-backports: see .ci/install-system.sh)',
    );
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  webgpuAdapterInfo = info === undefined ? 'adapter found' : `${info.vendor} ${info.architecture} ${info.description}`.trim();
  return webgpuAdapterInfo;
}

async function probeTensorflow(): Promise<string> {
  if (!isNode) throw new Error('tfjs-node-gpu runs only in Node.js');
  let mod: unknown;
  try {
    mod = await import('@tensorflow/tfjs-node-gpu' as string);
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-node-gpu is not installed or its libtensorflow is missing (${errMsg(e)}); it needs CUDA 11.2 + cuDNN 8.1 and network access at install time`);
  }
  void mod;
  const b = tf.findBackend('tensorflow') as (tf.KernelBackend & { isUsingGpuDevice?: boolean }) | null;
  if (b === null) throw new Error('tfjs-node-gpu loaded but registered no "tensorflow" backend');
  if (b.isUsingGpuDevice !== true) throw new Error('tfjs-node-gpu loaded but TensorFlow found no CUDA device (it would silently run on CPU)');
  return 'CUDA device';
}

/** Options of {@link useBackend}. @category backends */
export interface BackendOptions {
  /**
   * wasm in Node: XNNPACK threads (1: the single-threaded SIMD build; default: `--threads` /
   * {@link setDefaultThreads}, else `REPAE_THREADS`, else the cores the load average leaves idle, 1 to 8). A
   * change re-creates the wasm backend (its tensors are lost). `torch`: libtorch's intra-op
   * threads (default `REPAE_TORCH_THREADS`, else every core). Ignored by other backends.
   */
  readonly threads?: number;
}

let defaultThreadSetting: number | undefined;

/**
 * Sets the wasm thread count that {@link useBackend} uses when it is not given one (the CLI's
 * `--threads`). Takes effect at the next `useBackend('wasm')`.
 * @category backends
 */
export function setDefaultThreads(threads: number | undefined): void {
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new Error(`--threads expects an integer ≥ 1, got '${threads}'`);
  defaultThreadSetting = threads;
}

/** The wasm thread count set explicitly (`--threads` / {@link setDefaultThreads}, else `REPAE_THREADS`), if any. @category backends */
export function explicitThreads(): number | undefined {
  if (defaultThreadSetting !== undefined) return defaultThreadSetting;
  const env = isNode ? process.env['REPAE_THREADS'] : undefined;
  if (env === undefined || env.trim() === '') return undefined;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`REPAE_THREADS expects an integer ≥ 1 (wasm threads), got '${env}'`);
  return n;
}

let threadsModule: typeof import('./wasm-threads.js') | undefined;
let threadsError: string | undefined;

/** Loads the thread-enabled tfjs-backend-wasm (Node only); a failure leaves the plain single-threaded package. */
async function nodeWasmThreads(): Promise<string> {
  try {
    // A computed specifier keeps browser bundlers from following this Node-only module (node:fs, node:module, …).
    const spec = './wasm-threads.js';
    const m = (await import(/* @vite-ignore */ spec)) as typeof import('./wasm-threads.js');
    m.installWasmThreads();
    m.configureWasmThreads(defaultThreadSetting ?? m.defaultThreads());
    threadsModule = m;
    return ', threads in Node';
  } catch (e) {
    threadsError = errMsg(e);
    return `, single-threaded (threads unavailable: ${threadsError})`;
  }
}

/**
 * The wasm backend's thread situation in Node: the threads XNNPACK runs with once initialised
 * (`actual`), the configured count, and why threads are unavailable if they are.
 * @category backends
 */
export function wasmThreads(): { readonly configured?: number; readonly actual?: number; readonly unavailable?: string } {
  const configured = threadsModule?.configuredWasmThreads();
  const actual = threadsModule?.wasmThreadCount();
  return { ...(configured === undefined ? {} : { configured }), ...(actual === undefined ? {} : { actual }), ...(threadsError === undefined ? {} : { unavailable: threadsError }) };
}

async function probe(name: BackendName): Promise<string> {
  switch (name) {
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return 'pure JavaScript reference';
    case 'wasm': {
      if (typeof WebAssembly === 'undefined') throw new Error('WebAssembly is not available');
      await import('@tensorflow/tfjs-backend-cpu');
      const threads = isNode ? await nodeWasmThreads() : '';
      await import('@tensorflow/tfjs-backend-wasm');
      guardWasmProcessListeners('wasm'); // the Emscripten glue's process handlers would bury every later error
      const filled = patchBackend('wasm');
      return `XNNPACK + SIMD${threads}${filled.length > 0 ? `; cpu fallback for ${filled.join(', ')}` : ''}`;
    }
    case 'webgpu': {
      const info = await probeWebgpu();
      await import('@tensorflow/tfjs-backend-cpu');
      await import('@tensorflow/tfjs-backend-webgpu');
      const filled = patchBackend('webgpu');
      return `${info}${filled.length > 0 ? `; cpu fallback for ${filled.join(', ')}` : ''}`;
    }
    case 'tensorflow':
      return probeTensorflow();
    case 'torch':
    case 'torch:cuda': {
      if (!isNode) throw new Error('the torch backends run only in Node.js (a native addon)');
      const { probeTorch } = await import('./torch/index.js');
      return probeTorch(name === 'torch' ? 'cpu' : 'cuda');
    }
    default:
      return name satisfies never;
  }
}

const cache = new Map<BackendName, Promise<Availability>>();

/** Tells whether `name` can run here, with a human-readable reason when it cannot. @category backends */
export function availability(name: BackendName): Promise<Availability> {
  let p = cache.get(name);
  if (p === undefined) {
    p = probe(name).then(
      (detail): Availability => ({ name, available: true, detail }),
      (e: unknown): Availability => ({ name, available: false, reason: errMsg(e) }),
    );
    cache.set(name, p);
  }
  return p;
}

/** The state of every backend. @category backends */
export const available = (): Promise<Availability[]> => Promise.all(backendNames.map(availability));

/** The names of the backends that can run here. @category backends */
export const availableNames = async (): Promise<BackendName[]> =>
  (await available()).filter((a) => a.available).map((a) => a.name);

/** Thrown when an unavailable backend is chosen. @category backends */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';
}

/**
 * Makes `name` the active tfjs backend (registering gradients first). Fails with the reason when
 * it cannot run here.
 * @category backends
 */
export async function useBackend(name: BackendName, options: BackendOptions = {}): Promise<void> {
  if (!backendNames.includes(name))
    throw new BackendUnavailableError(`unknown backend '${String(name)}' (choose one of ${backendNames.join(', ')})`);
  await registerGradients();
  const a = await availability(name);
  if (!a.available) throw new BackendUnavailableError(`backend '${name}' is unavailable: ${a.reason}`);
  let recreated = false;
  if (name === 'wasm' && threadsModule !== undefined) {
    const want = options.threads ?? defaultThreadSetting ?? threadsModule.configuredWasmThreads() ?? threadsModule.defaultThreads();
    recreated = threadsModule.configureWasmThreads(want).recreated;
  }
  const torchThreads = options.threads ?? defaultThreadSetting;
  if ((name === 'torch' || name === 'torch:cuda') && torchThreads !== undefined) {
    const { setTorchThreads } = await import('./torch/index.js');
    await setTorchThreads(torchThreads); // `--threads` sets libtorch's intra-op threads too
  }
  if (!recreated && tf.getBackend() === name) return;
  if (!(await tf.setBackend(name))) throw new BackendUnavailableError(`backend '${name}' failed to initialise`);
  await tf.ready();
}

/** The fastest backend that runs here ({@link defaultBackendOrder}: torch:cuda > tensorflow > torch > wasm > cpu), made active. @category backends */
export async function useBestBackend(prefer?: readonly BackendName[], options: BackendOptions = {}): Promise<BackendName> {
  for (const n of prefer ?? defaultBackendOrder) {
    if ((await availability(n)).available) {
      await useBackend(n, options);
      return n;
    }
  }
  throw new BackendUnavailableError('no tfjs backend is available');
}

/** The active backend's name. @category backends */
export const activeBackend = (): string => tf.getBackend();

export { ensureGradients, patchBackend, registerGradients, withSetupHint } from './gradients.js';
export { guardWasmProcessListeners, removeListenersAddedSince, snapshotProcessListeners, GUARDED_EVENTS, type ListenerSnapshot } from './wasm-process.js';
