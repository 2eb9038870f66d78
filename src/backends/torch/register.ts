/**
 * @file Registers the `torch` / `torch:cuda` tfjs backends and their kernels: wraps each entry of
 * the kernel table with input lookup, an ATen caller that caches operator ids, disposal of the
 * kernel's temporaries, and output dtype normalisation (ATen int64 → int32, float64 → float32).
 * One {@link KernelRun} object per kernel call (methods on its prototype: no per-call closures).
 */
import * as tf from '@tensorflow/tfjs-core';
import { TorchBackend, type TorchDevice } from './backend.js';
import { torchKernels, type KernelCtx, type TorchKernelImpl } from './kernels.js';
import type { TorchArg, TorchHandle, TorchNative, TorchResult } from './native.js';

/** Resolves `name[.overload]` to an operator id once per addon. */
class OpCache {
  private readonly ids = new Map<string, number>();
  constructor(private readonly native: TorchNative) {}
  id(op: string): number {
    let id = this.ids.get(op);
    if (id === undefined) {
      const dot = op.indexOf('.');
      const name = `aten::${dot < 0 ? op : op.slice(0, dot)}`;
      id = this.native.findOp(name, dot < 0 ? '' : op.slice(dot + 1));
      this.ids.set(op, id);
    }
    return id;
  }
}

const isHandle = (r: TorchResult): r is TorchHandle => r !== null && typeof r === 'object' && !Array.isArray(r);

function collect(r: TorchResult, into: TorchHandle[]): void {
  if (isHandle(r)) into.push(r);
  else if (Array.isArray(r)) for (const e of r as readonly TorchResult[]) collect(e, into);
}

/** One kernel execution: the {@link KernelCtx} a table entry sees, and the handles it created. */
class KernelRun implements KernelCtx {
  readonly created: TorchHandle[] = [];
  readonly inputHandles = new Set<TorchHandle>();
  readonly memos = new Set<TorchHandle>();
  readonly device: string;
  private listCache: readonly tf.TensorInfo[] | undefined;

  constructor(
    readonly backend: TorchBackend, readonly ops: OpCache, readonly kernel: string,
    readonly named: Record<string, tf.TensorInfo | undefined>, readonly attrs: tf.NamedAttrMap,
  ) {
    this.device = backend.device;
  }

  get list(): readonly tf.TensorInfo[] {
    return (this.listCache ??= Object.values(this.named).filter((t): t is tf.TensorInfo => t !== undefined && t !== null));
  }

  h(t: tf.TensorInfo): TorchHandle {
    const h = this.backend.handle(t.dataId);
    this.inputHandles.add(h);
    return h;
  }

  info(name: string): tf.TensorInfo {
    const t = this.named[name];
    if (t === undefined || t === null) throw new Error(`torch backend: kernel ${this.kernel}: missing input '${name}'`);
    return t;
  }

  has(name: string): boolean {
    const t = this.named[name];
    return t !== undefined && t !== null;
  }

  x(name: string): TorchHandle {
    return this.h(this.info(name));
  }

  run(op: string, args: readonly TorchArg[]): TorchResult {
    let r: TorchResult;
    try {
      r = this.backend.native.call(this.ops.id(op), args);
    } catch (e) {
      throw new Error(`torch backend: kernel ${this.kernel}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    collect(r, this.created);
    return r;
  }

  call(op: string, ...args: TorchArg[]): TorchHandle {
    const r = this.run(op, args);
    if (!isHandle(r)) throw new Error(`torch backend: kernel ${this.kernel}: aten::${op} did not return one tensor`);
    return r;
  }

  calls(op: string, ...args: TorchArg[]): TorchHandle[] {
    const r = this.run(op, args);
    if (!Array.isArray(r)) throw new Error(`torch backend: kernel ${this.kernel}: aten::${op} did not return several tensors`);
    return r as TorchHandle[];
  }

  memo(name: string, tag: string, make: (x: TorchHandle) => TorchHandle): TorchHandle {
    const src = this.x(name);
    const hit = this.backend.memo(src, tag);
    if (hit !== undefined) return hit;
    const mark = this.created.length;
    const h = make(src);
    // the memo outlives the kernel: take it out of the temporaries
    const at = this.created.indexOf(h, mark);
    if (at >= 0) this.created.splice(at, 1);
    this.memos.add(h);
    this.backend.setMemo(src, tag, h);
    return h;
  }

  upload(values: Float32Array | Int32Array | Uint8Array, shape: readonly number[], dtype: 'float32' | 'int32' | 'bool'): TorchHandle {
    const h = this.backend.native.fromTypedArray(values, shape, dtype);
    this.created.push(h);
    return this.device === 'cpu' ? h : this.call('to.device', h, this.device, dtype, false, false);
  }

  /** Turns the entry's result into tfjs outputs and frees every temporary that is not an output. */
  finish(out: TorchHandle | readonly TorchHandle[]): tf.TensorInfo | tf.TensorInfo[] {
    const native = this.backend.native;
    const single = isHandle(out as TorchResult);
    const outs = single ? [out as TorchHandle] : (out as readonly TorchHandle[]);
    const keep = new Set<TorchHandle>();
    const infos: tf.TensorInfo[] = [];
    for (const h0 of outs) {
      let h = h0;
      if (this.inputHandles.has(h) || keep.has(h) || this.memos.has(h)) h = this.call('alias', h);
      let meta = native.meta(h);
      const dt = meta[0];
      if (dt !== 'float32' && dt !== 'int32' && dt !== 'bool') {
        h = this.call('to.dtype', h, dt === 'int64' || dt === 'uint8' ? 'int32' : 'float32', false, false);
        meta = native.meta(h);
      }
      keep.add(h);
      infos.push({ dataId: this.backend.adopt(h), shape: meta.slice(1) as number[], dtype: meta[0] as tf.DataType });
    }
    for (const h of this.created) if (!keep.has(h)) native.dispose(h);
    this.backend.kernelCalls++;
    return single ? (infos[0] as tf.TensorInfo) : infos;
  }

  fail(e: unknown): never {
    for (const h of this.created) this.backend.native.dispose(h);
    throw e;
  }
}

/** Runs one kernel-table entry on a backend: the core of every registered kernelFunc. @category backends */
export function runTorchKernel(
  backend: TorchBackend, ops: OpCache, kernel: string, impl: TorchKernelImpl, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap,
): tf.TensorInfo | tf.TensorInfo[] {
  const run = new KernelRun(backend, ops, kernel, inputs as Record<string, tf.TensorInfo | undefined>, attrs);
  let out: TorchHandle | readonly TorchHandle[];
  try {
    out = impl(run);
  } catch (e) {
    return run.fail(e);
  }
  return run.finish(out);
}

/** `Identity` without a native call: a new dataId sharing the input's native tensor (JS refcounted). */
function identityKernel(backend: TorchBackend, x: tf.TensorInfo): tf.TensorInfo {
  return { dataId: backend.share(x.dataId), shape: [...x.shape], dtype: x.dtype };
}

const registered = new Set<string>();

/**
 * Registers the backend `name` (`torch` on the CPU, `torch:cuda` on the first CUDA device) and
 * every kernel of the table for it. Idempotent.
 * @category backends
 */
export function registerTorchBackend(name: string, native: TorchNative, device: TorchDevice): void {
  if (registered.has(name)) return;
  registered.add(name);
  const ops = new OpCache(native);
  tf.registerBackend(name, () => new TorchBackend(native, device), 0);
  for (const [kernelName, impl] of Object.entries(torchKernels)) {
    tf.registerKernel({
      kernelName,
      backendName: name,
      kernelFunc:
        kernelName === 'Identity'
          ? ({ inputs, backend }) => identityKernel(backend as TorchBackend, inputs['x'] as tf.TensorInfo)
          : ({ inputs, attrs, backend }) => runTorchKernel(backend as TorchBackend, ops, kernelName, impl, inputs, attrs ?? {}),
    });
  }
}
