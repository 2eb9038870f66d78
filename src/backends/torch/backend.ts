/**
 * @file The `torch` tfjs backend: a `KernelBackend` whose tensor data are native `at::Tensor`s
 * (libtorch, through the repae addon). tfjs stays the engine (tapes, gradients, tidy); each tfjs
 * kernel maps to ATen operators in `kernels.ts`. Every kernel output gets its own dataId and
 * handle (views share native storage), so a dataId's native tensor always has the tfjs shape.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TorchDtype, TorchHandle, TorchNative } from './native.js';

interface Entry {
  handle: TorchHandle;
  refCount: number;
}

/** The device a torch backend instance places tensors on. @category backends */
export type TorchDevice = 'cpu' | 'cuda';

const nativeDtype = (d: tf.DataType): TorchDtype => {
  if (d === 'float32' || d === 'int32' || d === 'bool') return d;
  throw new Error(`torch backend: dtype '${d}' is not supported (float32, int32, bool)`);
};

function typedFor(values: tf.BackendValues, dtype: tf.DataType, size: number): ArrayBufferView {
  if (dtype === 'float32') return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
  if (dtype === 'int32') return values instanceof Int32Array ? values : Int32Array.from(values as ArrayLike<number>);
  if (dtype === 'bool') return values instanceof Uint8Array ? values : Uint8Array.from(values as ArrayLike<number>, (v) => (v !== 0 ? 1 : 0));
  void size;
  throw new Error(`torch backend: dtype '${dtype}' is not supported (float32, int32, bool)`);
}

/**
 * A tfjs backend on libtorch. `device` is `cpu` (`torch`) or `cuda` (`torch:cuda`, when the addon
 * was built against a CUDA libtorch and a device exists).
 * @category backends
 */
export class TorchBackend extends tf.KernelBackend {
  private readonly data: tf.DataStorage<Entry>;
  /** Derived native tensors cached per source tensor (e.g. a conv filter in ATen's channels-last layout), freed with it. */
  private readonly memos = new Map<TorchHandle, Map<string, TorchHandle>>();
  /** Number of kernel executions (for profiling). */
  kernelCalls = 0;

  constructor(readonly native: TorchNative, readonly device: TorchDevice) {
    super();
    this.data = new tf.DataStorage<Entry>(this, tf.engine());
  }

  /** The native tensor of a dataId. Throws naming the dataId's absence. */
  handle(dataId: tf.DataId): TorchHandle {
    const e = this.data.get(dataId);
    if (e === undefined) throw new Error('torch backend: tensor data not found (disposed, or from another backend)');
    return e.handle;
  }

  /** How many dataIds share a native handle beyond the first (Identity outputs); absent = 1. */
  private readonly sharers = new Map<TorchHandle, number>();

  /** A new dataId owning `h` (refCount 1). */
  adopt(h: TorchHandle): tf.DataId {
    const dataId = {};
    this.data.set(dataId, { handle: h, refCount: 1 });
    return dataId;
  }

  /** A new dataId sharing `src`'s native tensor (tfjs data is immutable); the tensor is freed with its last dataId. */
  share(src: tf.DataId): tf.DataId {
    const h = this.handle(src);
    this.sharers.set(h, (this.sharers.get(h) ?? 1) + 1);
    return this.adopt(h);
  }

  /** Frees `h` unless another dataId still shares it. */
  private release(h: TorchHandle): void {
    const n = this.sharers.get(h);
    if (n !== undefined) {
      if (n <= 2) this.sharers.delete(h);
      else this.sharers.set(h, n - 1);
      return;
    }
    this.dropMemos(h);
    this.native.dispose(h);
  }

  private upload(values: tf.BackendValues | null, shape: number[], dtype: tf.DataType): TorchHandle {
    const size = shape.reduce((a, b) => a * b, 1);
    const src = values === null ? new (dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint8Array)(size) : typedFor(values, dtype, size);
    const h = this.native.fromTypedArray(src, shape, nativeDtype(dtype));
    if (this.device === 'cpu') return h;
    const to = this.toDevice(h, this.device);
    this.native.dispose(h);
    return to;
  }

  private toDeviceOp = -1;
  private toDevice(h: TorchHandle, device: string): TorchHandle {
    if (this.toDeviceOp < 0) this.toDeviceOp = this.native.findOp('aten::to', 'device');
    return this.native.call(this.toDeviceOp, [h, device, this.native.dtype(h), false, true]) as TorchHandle;
  }

  /** The cached derivative `tag` of `src`, if any. */
  memo(src: TorchHandle, tag: string): TorchHandle | undefined {
    return this.memos.get(src)?.get(tag);
  }

  /** Caches `derived` as derivative `tag` of `src` (freed when `src`'s data is disposed). */
  setMemo(src: TorchHandle, tag: string, derived: TorchHandle): void {
    let m = this.memos.get(src);
    if (m === undefined) this.memos.set(src, (m = new Map()));
    m.set(tag, derived);
  }

  private dropMemos(src: TorchHandle): void {
    const m = this.memos.get(src);
    if (m === undefined) return;
    for (const h of m.values()) this.native.dispose(h);
    this.memos.delete(src);
  }

  override write(values: tf.BackendValues, shape: number[], dtype: tf.DataType): tf.DataId {
    return this.adopt(this.upload(values, shape, dtype));
  }

  override move(dataId: tf.DataId, values: tf.BackendValues, shape: number[], dtype: tf.DataType, refCount: number): void {
    const old = this.data.get(dataId);
    if (old !== undefined) this.release(old.handle);
    this.data.set(dataId, { handle: this.upload(values, shape, dtype), refCount });
  }

  /** A TensorInfo for `values` on this backend (for kernels that build constants). */
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: tf.BackendValues): tf.TensorInfo {
    return { dataId: this.write(values ?? new Float32Array(shape.reduce((a, b) => a * b, 1)), shape, dtype), shape, dtype };
  }

  override refCount(dataId: tf.DataId): number {
    return this.data.get(dataId)?.refCount ?? 0;
  }

  override incRef(dataId: tf.DataId): void {
    const e = this.data.get(dataId);
    if (e !== undefined) e.refCount++;
  }

  /** Decrements a dataId's refCount without freeing it. */
  decRef(dataId: tf.DataId): void {
    const e = this.data.get(dataId);
    if (e !== undefined) e.refCount--;
  }

  override readSync(dataId: tf.DataId): tf.BackendValues {
    const out = this.native.toTypedArray(this.handle(dataId));
    if (out instanceof Float32Array || out instanceof Int32Array || out instanceof Uint8Array) return out;
    throw new Error(`torch backend: cannot read a ${this.native.dtype(this.handle(dataId))} tensor`);
  }

  override read(dataId: tf.DataId): Promise<tf.BackendValues> {
    return Promise.resolve(this.readSync(dataId));
  }

  override disposeData(dataId: tf.DataId, force = false): boolean {
    const e = this.data.get(dataId);
    if (e === undefined) return true;
    e.refCount--;
    if (!force && e.refCount > 0) return false;
    this.release(e.handle);
    this.data.delete(dataId);
    return true;
  }

  override numDataIds(): number {
    return this.data.numDataIds();
  }

  override memory(): { unreliable: boolean; reasons?: string[]; numBytesInNative?: number; numNativeTensors?: number } {
    const live = this.native.liveTensors();
    return { unreliable: false, numBytesInNative: live.bytes, numNativeTensors: live.count };
  }

  override timerAvailable(): boolean {
    return true;
  }

  override async time(f: () => void): Promise<tf.BackendTimingInfo> {
    const t0 = performance.now();
    f();
    return { kernelMs: performance.now() - t0 };
  }

  override floatPrecision(): 32 {
    return 32;
  }

  override epsilon(): number {
    return 1e-7;
  }

  override dispose(): void {
    // Tensors are owned by dataIds; the engine disposes them. Nothing global to free.
  }
}
