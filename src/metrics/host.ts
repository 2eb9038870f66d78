/** @file Metric inputs: tracked tensors or host arrays with a shape, read to the host once. */
import { read } from '../core/ops/create.js';
import { isTensor as isTreeTensor } from '../core/tree.js';
import type { T } from '../core/tensor.js';

/** Values on the host with their shape (row-major), e.g. `{ data: Float32Array, shape: [n, d] }`. @category metrics */
export interface HostArray {
  readonly data: ArrayLike<number>;
  readonly shape: readonly number[];
}

/** What the metrics accept: a tensor of any group (read with `await x.data()`) or a {@link HostArray}. @category metrics */
export type MetricInput = T<string> | HostArray;

/** Error for a metric input of the wrong shape or size, naming the argument. @category metrics */
export class MetricInputError extends Error {
  override readonly name = 'MetricInputError';
}

const isTensor = (x: MetricInput): x is T<string> => isTreeTensor(x);

/**
 * Reads a metric input to the host (creates no tensors) and checks its rank when `rank` is given.
 * @category metrics
 */
export async function toHost(x: MetricInput, what: string, rank?: number): Promise<HostArray & { readonly shape: readonly number[] }> {
  const shape = [...x.shape];
  if (rank !== undefined && shape.length !== rank) throw new MetricInputError(`${what}: expected rank ${rank}, got shape [${shape.join(', ')}]`);
  const data = isTensor(x) ? await read(x) : x.data;
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new MetricInputError(`${what}: ${data.length} values for shape [${shape.join(', ')}]`);
  return { data, shape };
}

/** Reads an `[n, ...]` input as an `n × d` matrix (trailing axes flattened). @category metrics */
export async function toMatrix(x: MetricInput, what: string): Promise<{ readonly data: ArrayLike<number>; readonly n: number; readonly d: number }> {
  const h = await toHost(x, what);
  if (h.shape.length < 1) throw new MetricInputError(`${what}: expected [n, ...], got a scalar`);
  const n = h.shape[0] as number;
  return { data: h.data, n, d: n === 0 ? 0 : h.data.length / n };
}
