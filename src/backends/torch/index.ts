/**
 * @file The libtorch backends: `torch` (ATen on the CPU, OpenMP threads) and `torch:cuda` (when the
 * addon was built against a CUDA libtorch and a device exists). Probing loads the addon, checks
 * the BLAS it got, sets the thread count and registers the backend with its kernels.
 */
import { registerTorchBackend } from './register.js';
import { blasInfo, loadTorchNative, type TorchNative } from './native.js';

export { TorchBackend, type TorchDevice } from './backend.js';
export { torchKernels, torchKernelNames, type KernelCtx, type TorchKernelImpl } from './kernels.js';
export { blasInfo, loadTorchNative, type BlasInfo, type TorchArg, type TorchDtype, type TorchHandle, type TorchLoad, type TorchNative, type TorchResult } from './native.js';
export { registerTorchBackend, runTorchKernel } from './register.js';

async function defaultThreads(): Promise<number> {
  const env = process.env['REPAE_TORCH_THREADS'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`REPAE_TORCH_THREADS expects an integer ≥ 1, got '${env}'`);
    return n;
  }
  const os = await import('node:os');
  return os.availableParallelism();
}

let threadsSet = false;

/** Sets libtorch's intra-op thread count (`at::set_num_threads`). @category backends */
export async function setTorchThreads(n: number): Promise<void> {
  const l = await loadTorchNative();
  if (!l.ok) throw new Error(`torch backend is unavailable: ${l.reason}`);
  if (!Number.isInteger(n) || n < 1) throw new Error(`torch threads must be an integer ≥ 1, got ${n}`);
  l.native.setNumThreads(n);
  threadsSet = true;
}

/** libtorch's intra-op thread count, or undefined when the addon cannot load. @category backends */
export async function torchThreads(): Promise<number | undefined> {
  const l = await loadTorchNative();
  return l.ok ? l.native.getNumThreads() : undefined;
}

/** The live native tensors and their bytes (for leak tests), or undefined without the addon. @category backends */
export async function torchLiveTensors(): Promise<{ count: number; bytes: number } | undefined> {
  const l = await loadTorchNative();
  return l.ok ? l.native.liveTensors() : undefined;
}

async function ready(): Promise<TorchNative> {
  const l = await loadTorchNative();
  if (!l.ok) throw new Error(l.reason);
  if (!threadsSet) {
    l.native.setNumThreads(await defaultThreads());
    threadsSet = true;
  }
  return l.native;
}

/**
 * Probes `torch` (CPU) or `torch:cuda`, registering it when it can run; returns a one-line detail
 * (libtorch version, threads, BLAS) or throws with the reason it cannot.
 * @category backends
 */
export async function probeTorch(device: 'cpu' | 'cuda'): Promise<string> {
  const native = await ready();
  const blas = blasInfo(native);
  const blasText = blas.kind === 'netlib'
    ? 'BLAS: netlib reference (SLOW, ~20× slower matmuls: apt-get install libopenblas0-openmp)'
    : `BLAS: ${blas.kind}`;
  if (device === 'cpu') {
    registerTorchBackend('torch', native, 'cpu');
    return `libtorch ${native.torchVersion} CPU, ${native.getNumThreads()} threads, ${blasText}`;
  }
  const cuda = native.cuda();
  if (!cuda.built)
    throw new Error(
      "the addon is built against a CPU-only libtorch (Debian's libtorch-dev has no CUDA): set LIBTORCH to a CUDA libtorch from pytorch.org and run npm run build:native",
    );
  if (!cuda.available) throw new Error('the addon has CUDA, but libtorch sees no CUDA device (driver missing or no GPU)');
  registerTorchBackend('torch:cuda', native, 'cuda');
  return `libtorch ${native.torchVersion} CUDA, ${cuda.deviceCount} device(s)`;
}
