/**
 * @file Fills kernel gaps of a backend by delegating to the pure-JS cpu backend: tfjs-backend-wasm
 * 4.22 has no `Conv2DBackpropFilter`, `UnsortedSegmentSum` (the gradient of a gather, e.g. an
 * embedding table), nor the depthwise-conv backprops, so training a conv net or a label embedder on
 * wasm would fail. The fallback copies the inputs to the cpu backend, runs its kernel, and copies
 * the outputs back: exact (same code as the cpu reference), slower than a native kernel.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Kernels that gradient computations need and that some backends lack. */
export const gradientKernels: readonly string[] = [
  'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'UnsortedSegmentSum', 'DepthwiseConv2dNativeBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput', 'AvgPoolGrad', 'MaxPoolGrad', 'ResizeBilinearGrad', 'ResizeNearestNeighborGrad',
];

interface DataBackend {
  readSync(dataId: object): ArrayLike<number> | Uint8Array[];
  write(values: ArrayLike<number>, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** The parts of tfjs-backend-wasm's backend the fast paths below use (heap views, outputs). */
interface WasmHeapBackend extends DataBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
  readonly dataIdMap: { has(dataId: object): boolean };
}
const isWasmHeap = (b: unknown): b is WasmHeapBackend =>
  typeof (b as Partial<WasmHeapBackend>).typedArrayFromHeap === 'function' && typeof (b as Partial<WasmHeapBackend>).makeOutput === 'function';

/** Limits of {@link derivedOf}'s cache, per backend instance. */
const DERIVED_MAX_BYTES = 256 * 2 ** 20, DERIVED_MAX_ENTRIES = 128;

interface DerivedCache {
  /** `${kind}` → source dataId → derived tensor (insertion order = age). */
  readonly entries: Map<object, Map<string, tf.TensorInfo>>;
  /** Source dataIds seen once per kind (a derived form is cached from the second use on). */
  readonly seen: WeakMap<object, Set<string>>;
  bytes: number;
  count: number;
}
const derivedCaches = new WeakMap<object, DerivedCache>();
const bytesOf = (t: tf.TensorInfo): number => 4 * t.shape.reduce((a, c) => a * c, 1);

/** The cache of `backend`; on first use, hooks its `disposeData` so a source's derived forms die with it. */
function cacheOf(backend: DataBackend & { readonly dataIdMap: { has(dataId: object): boolean } }): DerivedCache {
  let c = derivedCaches.get(backend);
  if (c !== undefined) return c;
  const cache: DerivedCache = { entries: new Map(), seen: new WeakMap(), bytes: 0, count: 0 };
  c = cache;
  derivedCaches.set(backend, c);
  const orig = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: object, force?: boolean): boolean => {
    const r = orig(dataId, force);
    const forms = cache.entries.get(dataId);
    if (forms !== undefined && !backend.dataIdMap.has(dataId)) dropDerived(backend, cache, dataId, forms, orig);
    return r;
  };
  return c;
}

function dropDerived(backend: DataBackend, cache: DerivedCache, dataId: object, forms: Map<string, tf.TensorInfo>, dispose: (d: object, f?: boolean) => boolean = (d, f) => backend.disposeData(d, f)): void {
  cache.entries.delete(dataId);
  for (const t of forms.values()) {
    cache.bytes -= bytesOf(t);
    cache.count--;
    dispose(t.dataId, true);
  }
}

/** Entries currently held by the derived-form cache of `backend` (for tests). @category backends */
export function derivedCacheSize(backend: object): { readonly entries: number; readonly bytes: number } {
  const c = derivedCaches.get(backend);
  return { entries: c?.count ?? 0, bytes: c?.bytes ?? 0 };
}

/**
 * A form derived from `source` by `make` (a reversed/transposed filter, a transposed weight),
 * cached per backend from the second request for the same source data on, so frozen weights (the
 * LPIPS VGG16 filters: reversed + transposed on every backward) pay once while a weight replaced
 * every step is never cached. An entry is freed when its source is disposed; the cache holds at
 * most 256 MiB / 128 entries (oldest dropped first). Returns the derived tensor and whether the
 * caller owns it (must dispose it).
 */
function derivedOf(backend: unknown, source: tf.TensorInfo, kind: string, make: () => tf.TensorInfo): { readonly t: tf.TensorInfo; readonly owned: boolean } {
  if (!isWasmHeap(backend) || source.dtype !== 'float32') return { t: make(), owned: true };
  const cache = cacheOf(backend);
  const hit = cache.entries.get(source.dataId)?.get(kind);
  if (hit !== undefined) return { t: hit, owned: false };
  let kinds = cache.seen.get(source.dataId);
  if (kinds === undefined || !kinds.has(kind)) {
    if (kinds === undefined) cache.seen.set(source.dataId, (kinds = new Set()));
    kinds.add(kind);
    return { t: make(), owned: true };
  }
  const t = make();
  const size = bytesOf(t);
  if (size > DERIVED_MAX_BYTES / 4) return { t, owned: true };
  while ((cache.bytes + size > DERIVED_MAX_BYTES || cache.count >= DERIVED_MAX_ENTRIES) && cache.entries.size > 0) {
    const [oldest, forms] = cache.entries.entries().next().value as [object, Map<string, tf.TensorInfo>];
    dropDerived(backend, cache, oldest, forms);
  }
  let forms = cache.entries.get(source.dataId);
  if (forms === undefined) cache.entries.set(source.dataId, (forms = new Map()));
  forms.set(kind, t);
  cache.bytes += size;
  cache.count++;
  return { t, owned: false };
}

/**
 * Registers cpu-delegating kernels on `backendName` for every kernel in `names` that it lacks and
 * the cpu backend has. Returns the kernels it filled. Idempotent.
 * @category backends
 */
export function fillKernelGaps(backendName: string, names: readonly string[] = gradientKernels): string[] {
  const filled: string[] = [];
  for (const kernelName of names) {
    if (tf.getKernel(kernelName, backendName) !== undefined) continue;
    const cpuKernel = tf.getKernel(kernelName, 'cpu');
    if (cpuKernel === undefined) continue;
    tf.registerKernel({
      kernelName,
      backendName,
      kernelFunc: ({ inputs, attrs, backend }) => {
        const cpu = tf.findBackend('cpu') as unknown as DataBackend & tf.KernelBackend;
        const own = backend as unknown as DataBackend;
        const cpuInputs: Record<string, tf.TensorInfo> = {};
        for (const [name, info] of Object.entries(inputs as Record<string, tf.TensorInfo>))
          cpuInputs[name] = { dataId: cpu.write(own.readSync(info.dataId) as ArrayLike<number>, info.shape, info.dtype), shape: info.shape, dtype: info.dtype };
        const out = cpuKernel.kernelFunc({ inputs: cpuInputs, attrs: attrs ?? {}, backend: cpu });
        const outs = Array.isArray(out) ? out : [out];
        const back = outs.map((o) => {
          const vals = cpu.readSync(o.dataId) as ArrayLike<number>;
          cpu.disposeData(o.dataId, true);
          return { dataId: own.write(vals, o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
        });
        for (const i of Object.values(cpuInputs)) cpu.disposeData(i.dataId, true);
        return Array.isArray(out) ? back : (back[0] as tf.TensorInfo);
      },
    });
    filled.push(kernelName);
  }
  return filled;
}

/**
 * Makes tfjs-backend-wasm's `BatchMatMul` fast for transposed operands: its XNNPACK path only
 * covers `transposeA = transposeB = false`, and the transposed variants are 7–40× slower (measured
 * [128,2048]×[2048,2048]: 94 ms plain, 716 ms with transposeB, 3.8 s with transposeA). The override
 * materialises the transpose with the wasm `Transpose` kernel and calls the plain kernel.
 * Idempotent; returns whether it installed the override.
 * @category backends
 */
export function fastWasmMatMul(): boolean {
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (orig === undefined || transpose === undefined || (orig.kernelFunc as { repaeFast?: boolean }).repaeFast === true) return false;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo => {
    const { inputs, attrs, backend } = args;
    const a = inputs['a'] as tf.TensorInfo, b = inputs['b'] as tf.TensorInfo;
    const tA = attrs?.['transposeA'] === true, tB = attrs?.['transposeB'] === true;
    const plain = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo =>
      batchedViaSlices(backend, x, y, (p, q) => orig.kernelFunc({ inputs: { a: p, b: q }, attrs: { ...attrs, transposeA: false, transposeB: false }, backend } as never) as tf.TensorInfo);
    if (!tA && !tB) return plain(a, b);
    const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
      const r = x.shape.length;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1] as number, perm[r - 2] as number];
      return transpose.kernelFunc({ inputs: { x }, attrs: { perm }, backend: backend as tf.KernelBackend }) as tf.TensorInfo;
    };
    const a2 = tA ? derivedOf(backend, a, 'swapLast', () => swapLast(a)) : { t: a, owned: false };
    const b2 = tB ? derivedOf(backend, b, 'swapLast', () => swapLast(b)) : { t: b, owned: false };
    const out = plain(a2.t, b2.t);
    const own = backend as DataBackend;
    if (a2.owned) own.disposeData(a2.t.dataId, true);
    if (b2.owned) own.disposeData(b2.t.dataId, true);
    return out;
  };
  (kernelFunc as { repaeFast?: boolean }).repaeFast = true;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc: kernelFunc as tf.KernelFunc });
  return true;
}

/**
 * Makes a backend's `Identity` (what `tensor.clone()` and the autodiff tape's saved inputs run)
 * share the input's data, as the cpu backend does, instead of copying it: wasm copied every conv
 * filter the tape saved (15 ms per 3×3×512×512 VGG16 filter) and the copy's fresh id defeated
 * the derived-filter cache of {@link convInputGradViaConv}. Safe because kernels never write into
 * their inputs; the backend's reference count frees the data with its last user. Idempotent;
 * returns whether it installed the override.
 * @category backends
 */
export function sharedIdentity(backendName: string): boolean {
  const orig = tf.getKernel('Identity', backendName);
  if (orig === undefined || (orig.kernelFunc as { repaeShared?: boolean }).repaeShared === true) return false;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo => {
    const x = args.inputs['x'] as tf.TensorInfo;
    const b = args.backend as { incRef?: (d: object) => void };
    if (typeof b.incRef !== 'function') return orig.kernelFunc(args as never) as tf.TensorInfo;
    b.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  (kernelFunc as { repaeShared?: boolean }).repaeShared = true;
  tf.unregisterKernel('Identity', backendName);
  tf.registerKernel({ ...orig, kernelFunc: kernelFunc as tf.KernelFunc });
  return true;
}

/**
 * Makes tfjs-backend-wasm's `Transpose` fast when the permutation keeps the last axis in place
 * (SiT's qkv split [B,T,3,H,D] → [3,B,H,T,D], head merges): its generic N-d kernel moved 2.4 M
 * floats in ~600 ms; copying whole rows of the last axis between heap views takes a few ms.
 * Other permutations, short rows and non-float32 data use the original kernel. Idempotent;
 * returns whether it installed the override.
 * @category backends
 */
export function fastWasmTranspose(): boolean {
  const orig = tf.getKernel('Transpose', 'wasm');
  if (orig === undefined || (orig.kernelFunc as { repaeFast?: boolean }).repaeFast === true) return false;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo => {
    const x = args.inputs['x'] as tf.TensorInfo, perm = (args.attrs?.['perm'] ?? []) as number[];
    const { backend } = args;
    // Drop size-1 axes, then merge axes that stay adjacent and in order.
    const keep = [...perm.keys()].filter((i) => (x.shape[i] as number) !== 1);
    const rank = x.shape.length, inner = x.shape[rank - 1] as number;
    if (!isWasmHeap(backend) || x.dtype !== 'float32' || rank < 3 || perm[rank - 1] !== rank - 1 || inner < 16 || keep.length < 2)
      return orig.kernelFunc(args as never) as tf.TensorInfo;
    const outShape = perm.map((p) => x.shape[p] as number);
    // Outer axes (all but the last) of the output, with the input stride (in rows of `inner`) of each.
    const inStrides: number[] = new Array<number>(rank - 1);
    for (let i = rank - 2, st = 1; i >= 0; i--) { inStrides[i] = st; st *= x.shape[i] as number; }
    const dims = outShape.slice(0, -1), strides = perm.slice(0, -1).map((p) => inStrides[p] as number);
    const out = backend.makeOutput(outShape, 'float32');
    const src = backend.typedArrayFromHeap(x), dst = backend.typedArrayFromHeap(out);
    const idx = new Array<number>(dims.length).fill(0);
    const rows = dims.reduce((a, c) => a * c, 1);
    let from = 0;
    for (let r = 0; r < rows; r++) {
      const f = from * inner;
      dst.set(src.subarray(f, f + inner), r * inner);
      for (let d = dims.length - 1; d >= 0; d--) {
        from += strides[d] as number;
        if (++(idx[d] as number) < (dims[d] as number)) break;
        from -= (strides[d] as number) * (dims[d] as number);
        idx[d] = 0;
      }
    }
    return out;
  };
  (kernelFunc as { repaeFast?: boolean }).repaeFast = true;
  tf.unregisterKernel('Transpose', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc: kernelFunc as tf.KernelFunc });
  return true;
}

/** Per-matrix work (MACs) above which a batched product runs as one 2-D product per batch entry. */
const SLICE_MIN_MACS = 16_384;

/**
 * `a @ b` (no transposes) on wasm. Its `BatchMatMul` takes XNNPACK's fast path only for one matrix
 * pair; with a batch it falls back to a generic loop (~2 GFLOP/s: the SiT attention products
 * [48,256,256]×[48,256,64] measured 30× slower than 48 separate 2-D products). So: a batch against
 * one shared `b` becomes a single tall 2-D product; otherwise each batch entry is copied out of the
 * heap, multiplied as 2-D, and copied into the output. Small products keep the original kernel.
 */
function batchedViaSlices(backend: unknown, a: tf.TensorInfo, b: tf.TensorInfo, mm: (a: tf.TensorInfo, b: tf.TensorInfo) => tf.TensorInfo): tf.TensorInfo {
  const ra = a.shape.length, rb = b.shape.length;
  const m = a.shape[ra - 2] as number, k = a.shape[ra - 1] as number, n = b.shape[rb - 1] as number;
  const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1), batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const outer = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = outer.reduce((x, y) => x * y, 1);
  if (batch === 1 || !isWasmHeap(backend) || a.dtype !== 'float32' || m * k * n < SLICE_MIN_MACS) return mm(a, b);
  const outShape = [...outer, m, n];
  if (batchB === 1 && batchA === batch) {
    // One shared right-hand matrix: [batch·m, k] × [k, n] in one call (reshapes share the data).
    const out = mm({ ...a, shape: [batch * m, k] }, { ...b, shape: [k, n] });
    return { ...out, shape: outShape };
  }
  // Broadcast only in the simple forms (one side unbatched, or equal batches).
  if (!((batchA === batch || batchA === 1) && (batchB === batch || batchB === 1))) return mm(a, b);
  const out = backend.makeOutput(outShape, 'float32');
  const mk = m * k, kn = k * n, mn = m * n;
  for (let i = 0; i < batch; i++) {
    // Fresh operands each time: XNNPACK caches its packed right-hand matrix by tensor id.
    const pa = backend.makeOutput([m, k], 'float32'), pb = backend.makeOutput([k, n], 'float32');
    // Views are taken after each allocation: the heap may grow (and be replaced) at any output.
    const ia = batchA === 1 ? 0 : i * mk, ib = batchB === 1 ? 0 : i * kn;
    backend.typedArrayFromHeap(pa).set(backend.typedArrayFromHeap(a).subarray(ia, ia + mk));
    backend.typedArrayFromHeap(pb).set(backend.typedArrayFromHeap(b).subarray(ib, ib + kn));
    const r = mm(pa, pb);
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(r), i * mn);
    for (const t of [r, pa, pb]) backend.disposeData(t.dataId, true);
  }
  return out;
}

/**
 * A native-speed `Conv2DBackpropFilter` for backends that lack it (tfjs-backend-wasm), built from
 * kernels they have: the filter gradient of a stride-s convolution is itself a convolution,
 * `dW[kh,kw,ci,co] = Σ_{n,oh,ow} x̃[n, oh·s+kh, ow·s+kw, ci]·dy[n,oh,ow,co]` — i.e. a stride-1 conv
 * with dilation `s` of `x̃ᵀ: [Ci, Hp, Wp, N]` (padded input, batch and channels swapped) with
 * `dyᵀ: [OH, OW, N, Co]` as the filter, cropped to `[Ci, KH, KW, Co]` and transposed back.
 * Returns whether it was installed (it replaces a slower fallback if one is there).
 * @category backends
 */
export function convFilterGradViaConv(backendName: string): boolean {
  const get = (k: string): tf.KernelConfig | undefined => tf.getKernel(k, backendName);
  const conv = get('Conv2D'), transpose = get('Transpose'), pad = get('PadV2'), slice = get('Slice');
  const existing = get('Conv2DBackpropFilter');
  if (conv === undefined || transpose === undefined || pad === undefined || slice === undefined) return false;
  if (existing !== undefined && (existing.kernelFunc as { repaeConvTrick?: boolean }).repaeConvTrick === true) return false;
  const kernelFunc = ({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo => {
    const x = inputs['x'] as tf.TensorInfo, dy = inputs['dy'] as tf.TensorInfo;
    const a = attrs as unknown as { strides: number | [number, number]; pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
    if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter fallback supports NHWC only');
    const [kh, kw, ci, co] = a.filterShape;
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    const b = backend as tf.KernelBackend;
    const own = backend as DataBackend;
    const run = (k: tf.KernelConfig, ins: tf.NamedTensorInfoMap, at: tf.NamedAttrMap): tf.TensorInfo => k.kernelFunc({ inputs: ins, attrs: at, backend: b }) as tf.TensorInfo;
    const p = info.padInfo;
    const needH = (info.outHeight - 1) * sh + kh, needW = (info.outWidth - 1) * sw + kw;
    const [, h, w] = x.shape as [number, number, number, number];
    const bottom = Math.max(0, needH - h - p.top), right = Math.max(0, needW - w - p.left);
    const padded = p.top + bottom + p.left + right > 0 ? run(pad, { x }, { paddings: [[0, 0], [p.top, bottom], [p.left, right], [0, 0]], constantValue: 0 }) : x;
    const xt = run(transpose, { x: padded }, { perm: [3, 1, 2, 0] });
    const dyt = run(transpose, { x: dy }, { perm: [1, 2, 0, 3] });
    const out = run(conv, { x: xt, filter: dyt }, { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: 'floor' } as unknown as tf.NamedAttrMap);
    const cropped = run(slice, { x: out }, { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] });
    const result = run(transpose, { x: cropped }, { perm: [1, 2, 0, 3] });
    for (const t of [padded === x ? undefined : padded, xt, dyt, out, cropped]) if (t !== undefined) own.disposeData(t.dataId, true);
    return result;
  };
  (kernelFunc as { repaeConvTrick?: boolean }).repaeConvTrick = true;
  if (existing !== undefined) tf.unregisterKernel('Conv2DBackpropFilter', backendName);
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName, kernelFunc: kernelFunc as tf.KernelFunc });
  return true;
}

/**
 * Replaces a backend's stride-1 `Conv2DBackpropInput` by the equivalent forward convolution
 * (`dx = conv(dy, rot180(W)ᵀ)` with padding `K − 1 − p`), which takes XNNPACK's fast path on wasm
 * (measured 2.3× faster than wasm's native kernel on the LPIPS VGG16 backward). Other strides use
 * the original kernel. Returns whether it was installed.
 * @category backends
 */
export function convInputGradViaConv(backendName: string): boolean {
  const get = (k: string): tf.KernelConfig | undefined => tf.getKernel(k, backendName);
  const conv = get('Conv2D'), transpose = get('Transpose'), reverse = get('Reverse'), orig = get('Conv2DBackpropInput');
  if (conv === undefined || transpose === undefined || reverse === undefined || orig === undefined) return false;
  if ((orig.kernelFunc as { repaeConvTrick?: boolean }).repaeConvTrick === true) return false;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo => {
    const { inputs, attrs, backend } = args;
    const dy = inputs['dy'] as tf.TensorInfo, filter = inputs['filter'] as tf.TensorInfo;
    const a = attrs as unknown as { strides: number | [number, number]; pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; inputShape: [number, number, number, number] };
    const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode);
    if (a.dataFormat === 'NCHW' || info.strideHeight !== 1 || info.strideWidth !== 1) return orig.kernelFunc(args as never) as tf.TensorInfo;
    const b = backend as tf.KernelBackend, own = backend as DataBackend;
    const run = (k: tf.KernelConfig, ins: tf.NamedTensorInfoMap, at: tf.NamedAttrMap): tf.TensorInfo => k.kernelFunc({ inputs: ins, attrs: at, backend: b }) as tf.TensorInfo;
    const [kh, kw] = filter.shape as [number, number, number, number];
    const p = info.padInfo;
    const derived = derivedOf(backend, filter, 'rot180T', () => {
      const flipped = run(reverse, { x: filter }, { dims: [0, 1] });
      const t = run(transpose, { x: flipped }, { perm: [0, 1, 3, 2] });
      own.disposeData(flipped.dataId, true);
      return t;
    });
    const wt = derived.t;
    const [, h, w] = a.inputShape;
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [kh - 1 - p.top, h - info.outHeight + p.top], [kw - 1 - p.left, w - info.outWidth + p.left], [0, 0]];
    const ok = pad.every(([u, v]) => u >= 0 && v >= 0);
    const out = ok ? run(conv, { x: dy, filter: wt }, { strides: [1, 1], pad: pad as unknown as tf.NamedAttrMap[string], dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: 'floor' } as unknown as tf.NamedAttrMap) : (orig.kernelFunc(args as never) as tf.TensorInfo);
    if (derived.owned) own.disposeData(wt.dataId, true);
    return out;
  };
  (kernelFunc as { repaeConvTrick?: boolean }).repaeConvTrick = true;
  tf.unregisterKernel('Conv2DBackpropInput', backendName);
  tf.registerKernel({ ...orig, kernelFunc: kernelFunc as tf.KernelFunc }); // keep setupFunc: wasm binds its C++ kernel there
  return true;
}

/**
 * Makes `AddN` safe on backends whose kernel silently sums only the first few inputs (seen on
 * tfjs-backend-webgpu 4.22 over Mesa lavapipe: `addN` of 8 scalars returned the sum of the first
 * 4, which zeroed the global gradient norm of a clipping step). The wrapper adds at most
 * `chunk` tensors per kernel call, in a tree. Returns whether it was installed.
 * @category backends
 */
export function chunkedAddN(backendName: string, chunk = 4): boolean {
  const orig = tf.getKernel('AddN', backendName);
  if (orig === undefined || (orig.kernelFunc as { repaeChunked?: boolean }).repaeChunked === true) return false;
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo => {
    let level = Object.values(args.inputs) as tf.TensorInfo[];
    if (level.length <= chunk) return orig.kernelFunc(args as never) as tf.TensorInfo;
    const own = args.backend as DataBackend;
    let owned = new Set<tf.TensorInfo>();
    while (level.length > 1) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += chunk) {
        const part = level.slice(i, i + chunk);
        if (part.length === 1) { next.push(part[0] as tf.TensorInfo); continue; }
        next.push(orig.kernelFunc({ ...args, inputs: part } as never) as tf.TensorInfo); // AddN takes an array
      }
      const nextOwned = new Set(next.filter((t) => !level.includes(t) || owned.has(t)));
      for (const t of owned) if (!nextOwned.has(t)) own.disposeData(t.dataId, true);
      owned = nextOwned;
      level = next;
    }
    return level[0] as tf.TensorInfo;
  };
  (kernelFunc as { repaeChunked?: boolean }).repaeChunked = true;
  tf.unregisterKernel('AddN', backendName);
  tf.registerKernel({ ...orig, kernelFunc: kernelFunc as tf.KernelFunc });
  return true;
}
