/**
 * @file Registers tfjs-core's gradient functions exactly once — in Node (CLI, examples, vitest, an
 * installed package) and in browsers — and sets up the active backend's kernel fixes, whether the
 * backend was chosen with repae's `useBackend` or with tfjs's own `tf.setBackend`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, isNode, registered, setBackendSetup } from '../core/setup.js';
import { chunkedAddN, convFilterGradViaConv, convInputGradViaConv, fastWasmMatMul, fastWasmTranspose, fillKernelGaps, sharedIdentity } from './fallbacks.js';

/** Per backend: the kernels filled from cpu so far, and whether the cpu kernels were loaded then. */
const patched = new Map<string, { readonly filled: readonly string[]; readonly withCpu: boolean }>();

/**
 * Applies repae's kernel fixes (see `fallbacks.ts`) to a backend — the wasm conv gradients as
 * forward convolutions, the fast transposed matmul and cpu fallbacks for missing kernels; the webgpu
 * chunked `AddN` — and returns the kernels filled from the cpu backend. The backend probe and
 * {@link ensureGradients} (the `tf.setBackend` path) both call it; every fix is idempotent, and it
 * is redone only when the cpu kernels (the source of the fallbacks) have been loaded since.
 * @category backends
 */
export function patchBackend(name: string): readonly string[] {
  const withCpu = tf.getKernel('Add', 'cpu') !== undefined;
  const done = patched.get(name);
  if (done !== undefined && (done.withCpu || !withCpu)) return done.filled;
  const filled = [...(done?.filled ?? [])];
  if (name === 'wasm') {
    // Transpose first: the conv-gradient kernels below capture the Transpose kernel they run.
    fastWasmTranspose();
    sharedIdentity('wasm');
    convFilterGradViaConv('wasm');
    convInputGradViaConv('wasm');
    filled.push(...fillKernelGaps('wasm'));
    fastWasmMatMul();
  } else if (name === 'webgpu') {
    filled.push(...fillKernelGaps('webgpu'));
    chunkedAddN('webgpu');
  }
  patched.set(name, { filled, withCpu });
  return filled;
}

export { ensureGradients, withSetupHint } from '../core/setup.js';

// Every gradient in the core runs this backend's kernel fixes first (the `tf.setBackend` path too).
setBackendSetup(patchBackend);

let done: Promise<void> | undefined;

/**
 * Registers every tfjs-core gradient (idempotent) and sets up the active backend's kernel fixes.
 * In Node this is {@link ensureGradients}; in a browser bundle (Vite) it imports tfjs-core's ESM
 * gradient module.
 * @category backends
 */
export function registerGradients(): Promise<void> {
  done ??= (async () => {
    if (!registered() && !isNode) await import('@tensorflow/tfjs-core/dist/register_all_gradients.js' as string);
  })();
  return done.then(ensureGradients);
}
