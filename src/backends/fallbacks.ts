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
    if (!tA && !tB) return orig.kernelFunc(args as never) as tf.TensorInfo;
    const swapLast = (x: tf.TensorInfo): tf.TensorInfo => {
      const r = x.shape.length;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1] as number, perm[r - 2] as number];
      return transpose.kernelFunc({ inputs: { x }, attrs: { perm }, backend: backend as tf.KernelBackend }) as tf.TensorInfo;
    };
    const a2 = tA ? swapLast(a) : a, b2 = tB ? swapLast(b) : b;
    const out = orig.kernelFunc({ inputs: { a: a2, b: b2 }, attrs: { ...attrs, transposeA: false, transposeB: false }, backend } as never) as tf.TensorInfo;
    const own = backend as DataBackend;
    if (tA) own.disposeData(a2.dataId, true);
    if (tB) own.disposeData(b2.dataId, true);
    return out;
  };
  (kernelFunc as { repaeFast?: boolean }).repaeFast = true;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc: kernelFunc as tf.KernelFunc });
  return true;
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
    const flipped = run(reverse, { x: filter }, { dims: [0, 1] });
    const wt = run(transpose, { x: flipped }, { perm: [0, 1, 3, 2] });
    const [, h, w] = a.inputShape;
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [kh - 1 - p.top, h - info.outHeight + p.top], [kw - 1 - p.left, w - info.outWidth + p.left], [0, 0]];
    const ok = pad.every(([u, v]) => u >= 0 && v >= 0);
    const out = ok ? run(conv, { x: dy, filter: wt }, { strides: [1, 1], pad: pad as unknown as tf.NamedAttrMap[string], dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: 'floor' } as unknown as tf.NamedAttrMap) : (orig.kernelFunc(args as never) as tf.TensorInfo);
    own.disposeData(flipped.dataId, true);
    own.disposeData(wt.dataId, true);
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
