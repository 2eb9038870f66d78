/**
 * @file Loads the repae native addon (`build/native/repae_native.node`, built by
 * `npm run build:native` against libtorch) and describes its interface. Node only; never throws at
 * import time: {@link loadTorchNative} reports why the addon cannot be used.
 */

/** An opaque handle to one native `at::Tensor` (a JS External; freed by `dispose` or the GC). @category backends */
export interface TorchHandle {
  readonly __torchHandle: unique symbol;
}

/** A value the boxed dispatcher converts by the operator's schema. @category backends */
export type TorchArg = TorchHandle | number | bigint | boolean | string | null | undefined | readonly TorchArg[];

/** What an operator call returns: a handle, null (an undefined tensor), numbers, or arrays of those. @category backends */
export type TorchResult = TorchHandle | null | number | boolean | readonly TorchResult[];

/** The dtypes the addon moves between JS and ATen. @category backends */
export type TorchDtype = 'float32' | 'int32' | 'bool' | 'float64' | 'int64' | 'uint8';

/** The functions the native addon exports (see native/*.cc). @category backends */
export interface TorchNative {
  /** Parts the addon was built with (e.g. tensor, ops, runtime, collective). */
  readonly parts: readonly string[];
  /** libtorch version string, e.g. "1.13.0". */
  readonly torchVersion: string;
  /** A new tensor copied from `data` (bool and uint8 from a Uint8Array). */
  fromTypedArray(data: ArrayBufferView, shape: readonly number[], dtype: TorchDtype): TorchHandle;
  /** A copy of the tensor's elements in row-major order of its logical shape. */
  toTypedArray(h: TorchHandle): Float32Array | Int32Array | Uint8Array | Float64Array | BigInt64Array;
  /** Frees the tensor now; returns whether it was live. */
  dispose(h: TorchHandle): boolean;
  isDisposed(h: TorchHandle): boolean;
  shape(h: TorchHandle): number[];
  strides(h: TorchHandle): number[];
  dtype(h: TorchHandle): string;
  /** `[dtype, ...shape]` in one call. */
  meta(h: TorchHandle): [string, ...number[]];
  device(h: TorchHandle): string;
  /** Live native tensors created through handles, and their element bytes. */
  liveTensors(): { count: number; bytes: number };
  /** Resolves an ATen operator (`aten::conv2d`, overload `''`) to an id for {@link TorchNative.call}. */
  findOp(name: string, overload: string): number;
  /** The operator's schema string. */
  schema(id: number): string;
  /** Calls an operator with positional arguments (missing trailing ones take schema defaults). */
  call(id: number, args: readonly TorchArg[]): TorchResult;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** Paths of the BLAS/LAPACK shared objects mapped into this process. */
  blasLibraries(): string[];
  /** Whether the addon was built against a CUDA libtorch, and the devices it sees. */
  cuda(): { built: boolean; deviceCount: number; available: boolean };
  /** `at::show_config()`. */
  config(): string;
}

/** The outcome of loading the addon. @category backends */
export type TorchLoad = { readonly ok: true; readonly native: TorchNative; readonly path: string } | { readonly ok: false; readonly reason: string };

let loaded: TorchLoad | undefined;

/**
 * Loads the addon once (Node only). The reason on failure says what to do: build it
 * (`npm run build:native`), or install libtorch (`apt-get install libtorch-dev libopenblas0-openmp`,
 * or `LIBTORCH=<dir>`).
 * @category backends
 */
export async function loadTorchNative(): Promise<TorchLoad> {
  if (loaded !== undefined) return loaded;
  loaded = await (async (): Promise<TorchLoad> => {
    const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
    if (!isNode) return { ok: false, reason: 'the torch backend runs only in Node.js (a native addon)' };
    const { createRequire } = await import('node:module');
    const { existsSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const { join, dirname } = await import('node:path');
    // from src/backends/torch (a checkout) or dist/src/backends/torch (the installed package)
    const here = dirname(fileURLToPath(import.meta.url));
    const candidates = [join(here, '..', '..', '..', 'build', 'native', 'repae_native.node'), join(here, '..', '..', '..', '..', 'build', 'native', 'repae_native.node')];
    const path = process.env['REPAE_NATIVE_ADDON'] ?? candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
    if (!existsSync(path)) {
      const hasTorch = existsSync('/usr/include/ATen/ATen.h') || (process.env['LIBTORCH'] ?? '') !== '';
      return {
        ok: false,
        reason: hasTorch
          ? `native addon not built (${path} is missing): run npm run build:native`
          : `native addon not built and no libtorch found: apt-get install libtorch-dev libopenblas0-openmp (or set LIBTORCH to a libtorch distribution), then npm run build:native`,
      };
    }
    // libgomp reads OMP_WAIT_POLICY when the addon loads it. Its default (spin after each parallel
    // region) lets idle OpenMP workers starve the JS thread that issues the next kernel: measured
    // here, a tiny REPA-E step at 2 threads took 8.3 s spinning vs 1.5 s passive.
    process.env['OMP_WAIT_POLICY'] ??= 'PASSIVE';
    try {
      const native = createRequire(import.meta.url)(path) as TorchNative;
      if (!native.parts.includes('tensor') || !native.parts.includes('ops'))
        return { ok: false, reason: `${path} lacks the tensor/ops parts (parts: ${native.parts.join(', ')}): rebuild with npm run build:native` };
      return { ok: true, native, path };
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n')[0] ?? String(e) : String(e);
      return { ok: false, reason: `cannot load ${path} (${msg}); is libtorch still installed? rebuild with npm run build:native` };
    }
  })();
  return loaded;
}

/** The classification of the BLAS the process uses. @category backends */
export interface BlasInfo {
  readonly libraries: readonly string[];
  /** `openblas`, `mkl`, `netlib` (Debian's reference BLAS: ~20× slower), or `unknown`. */
  readonly kind: 'openblas' | 'mkl' | 'netlib' | 'unknown';
}

/** Which BLAS libtorch got (from the mapped libraries). @category backends */
export function blasInfo(native: TorchNative): BlasInfo {
  const libs = native.blasLibraries();
  const kind = libs.some((l) => /openblas/i.test(l)) ? 'openblas' : libs.some((l) => /mkl/i.test(l)) ? 'mkl' : libs.some((l) => /\/blas\/libblas\.so/.test(l)) ? 'netlib' : 'unknown';
  return { libraries: libs, kind };
}
