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
