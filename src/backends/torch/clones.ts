/**
 * @file Torch-tensor edge of the collectives: when the current tfjs backend is the torch backend,
 * each leaf is cloned on the torch side (ATen `clone`, no host transfer) into a new tfjs tensor whose
 * native handle the collective then reduces or overwrites in place. The inputs stay untouched
 * (tfjs tensors are immutable and may share storage), so the tree operations stay pure.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TorchBackend } from './backend.js';
import type { TorchHandle } from './native.js';

let cloneOp = -1;

/**
 * Torch-side clones of `ts` as new tfjs tensors plus their native handles, or undefined when the
 * backend is not torch, a tensor lives elsewhere, or a clone is not contiguous (then use host buffers).
 * @category io
 */
export function torchClones(ts: readonly tf.Tensor[]): { readonly handles: TorchHandle[]; readonly tensors: tf.Tensor[] } | undefined {
  const b = tf.backend();
  if (!(b instanceof TorchBackend) || ts.length === 0) return undefined;
  let src: TorchHandle[];
  try {
    src = ts.map((t) => b.handle(t.dataId));
  } catch {
    return undefined;
  }
  if (cloneOp < 0) cloneOp = b.native.findOp('aten::clone', '');
  const handles = src.map((h) => b.native.call(cloneOp, [h]) as TorchHandle);
  const contiguous = (h: TorchHandle): boolean => {
    const shape = b.native.shape(h), strides = b.native.strides(h);
    let want = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      if ((shape[i] as number) !== 1 && strides[i] !== want) return false;
      want *= shape[i] as number;
    }
    return true;
  };
  if (!handles.every(contiguous)) {
    for (const h of handles) b.native.dispose(h);
    return undefined;
  }
  const tensors = handles.map((h, i) => tf.engine().makeTensorFromDataId(b.adopt(h), (ts[i] as tf.Tensor).shape, (ts[i] as tf.Tensor).dtype, b));
  return { handles, tensors };
}
