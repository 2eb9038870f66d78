/// <reference types="vite/client" />
/** @file The page's tfjs backend: WebGPU when the browser offers an adapter, otherwise wasm, saying why. */
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { availability, useBackend } from '../../src/backends/index.js';

/** The backend the page runs on: its name, what it is (the WebGPU adapter), and why not WebGPU if it fell back. */
export interface PageBackend {
  readonly name: 'webgpu' | 'wasm';
  readonly detail: string;
  /** Set when the page fell back to wasm: why WebGPU could not be used. */
  readonly fallbackReason?: string;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Activates WebGPU (tfjs-backend-webgpu) when the browser has an adapter, else the wasm backend
 * (XNNPACK), returning which and why. `prefer: 'wasm'` skips WebGPU (the page's `?backend=wasm`).
 */
export async function choosePageBackend(prefer?: string): Promise<PageBackend> {
  // Bundlers move the .wasm binaries; tell tfjs where Vite put them.
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlainUrl,
    'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
  });
  let reason = 'wasm was requested (?backend=wasm)';
  if (prefer !== 'wasm') {
    const gpu = await availability('webgpu');
    if (gpu.available) {
      try {
        await useBackend('webgpu');
        return { name: 'webgpu', detail: gpu.detail };
      } catch (e) {
        reason = message(e);
      }
    } else reason = gpu.reason;
  }
  await useBackend('wasm');
  const w = await availability('wasm');
  return { name: 'wasm', detail: w.available ? w.detail : 'wasm', fallbackReason: reason };
}
