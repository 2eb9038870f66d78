/**
 * @file Registers the `torch` / `torch:cuda` tfjs backends and their kernels: wraps each entry of
 * the kernel table with input lookup, an ATen caller that caches operator ids, disposal of the
 * kernel's temporaries, and output dtype normalisation (ATen int64 → int32, float64 → float32).
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

/** Runs one kernel-table entry on a backend: the core of every registered kernelFunc. @category backends */
export function runTorchKernel(
  backend: TorchBackend, ops: OpCache, kernel: string, impl: TorchKernelImpl, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap,
): tf.TensorInfo | tf.TensorInfo[] {
  const native = backend.native;
  const created: TorchHandle[] = [];
  const inputHandles = new Set<TorchHandle>();
  const memos = new Set<TorchHandle>();
  const lookup = (t: tf.TensorInfo): TorchHandle => {
    const h = backend.handle(t.dataId);
    inputHandles.add(h);
    return h;
  };
  const named = inputs as Record<string, tf.TensorInfo | undefined>;
  const info = (name: string): tf.TensorInfo => {
    const t = named[name];
    if (t === undefined || t === null) throw new Error(`torch backend: kernel ${kernel}: missing input '${name}'`);
    return t;
  };
  const run = (op: string, args: readonly TorchArg[]): TorchResult => {
    let r: TorchResult;
    try {
      r = native.call(ops.id(op), args);
    } catch (e) {
      throw new Error(`torch backend: kernel ${kernel}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
    collect(r, created);
    return r;
  };
  const ctx: KernelCtx = {
    kernel,
    x: (name) => lookup(info(name)),
    info,
    has: (name) => named[name] !== undefined && named[name] !== null,
    list: Object.values(named).filter((t): t is tf.TensorInfo => t !== undefined && t !== null),
    h: lookup,
    attrs,
    device: backend.device,
    call: (op, ...args) => {
      const r = run(op, args);
      if (!isHandle(r)) throw new Error(`torch backend: kernel ${kernel}: aten::${op} did not return one tensor`);
      return r;
    },
    memo: (name, tag, make) => {
      const src = lookup(info(name));
      const hit = backend.memo(src, tag);
      if (hit !== undefined) return hit;
      const mark = created.length;
      const h = make(src);
      // the memo outlives the kernel: take it out of the temporaries
      const at = created.indexOf(h, mark);
      if (at >= 0) created.splice(at, 1);
      memos.add(h);
      backend.setMemo(src, tag, h);
      return h;
    },
    upload: (values, shape, dtype) => {
      let h = native.fromTypedArray(values, shape, dtype);
      created.push(h);
      if (backend.device !== 'cpu') h = ctx.call('to.device', h, backend.device, dtype, false, false);
      return h;
    },
    calls: (op, ...args) => {
      const r = run(op, args);
      if (!Array.isArray(r)) throw new Error(`torch backend: kernel ${kernel}: aten::${op} did not return several tensors`);
      return r as TorchHandle[];
    },
  };
  let out: TorchHandle | readonly TorchHandle[];
  try {
    out = impl(ctx);
  } catch (e) {
    for (const h of created) native.dispose(h);
    throw e;
  }
  const outs = isHandle(out as TorchResult) ? [out as TorchHandle] : [...(out as readonly TorchHandle[])];
  const keep = new Set<TorchHandle>();
  const infos = outs.map((h0) => {
    let h = h0;
    if (inputHandles.has(h) || keep.has(h) || memos.has(h)) h = ctx.call('alias', h);
    let meta = native.meta(h);
    const dt = meta[0];
    if (dt !== 'float32' && dt !== 'int32' && dt !== 'bool') {
      h = ctx.call('to.dtype', h, dt === 'int64' || dt === 'uint8' ? 'int32' : 'float32', false, false);
      meta = native.meta(h);
    }
    keep.add(h);
    const [dtype, ...shape] = meta;
    return { dataId: backend.adopt(h), shape: shape as number[], dtype: dtype as tf.DataType };
  });
  for (const h of created) if (!keep.has(h)) native.dispose(h);
  backend.kernelCalls++;
  return isHandle(out as TorchResult) ? (infos[0] as tf.TensorInfo) : infos;
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
      kernelFunc: ({ inputs, attrs, backend }) => runTorchKernel(backend as TorchBackend, ops, kernelName, impl, inputs, attrs ?? {}),
    });
  }
}
