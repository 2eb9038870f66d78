/**
 * @file Registers tfjs-core's gradient functions exactly once — in Node (CLI, examples, vitest, an
 * installed package) and in browsers — and sets up the active backend's kernel fixes, whether the
 * backend was chosen with repae's `useBackend` or with tfjs's own `tf.setBackend`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { chunkedAddN, convFilterGradViaConv, convInputGradViaConv, fastWasmMatMul, fastWasmTranspose, fillKernelGaps, sharedIdentity } from './fallbacks.js';

/** The name of the prebuilt gradient bundle that `npm run build` writes next to `dist/src/`. */
const BUNDLE = 'tfjs-gradients.cjs';
const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
const registered = (): boolean => tf.getGradient('Multiply') !== undefined;

/** What to do when gradients or kernels are missing; appended to tfjs's terse errors. */
const HINT =
  "repae sets up tfjs's gradients and backend kernels in `await useBackend(name)` / `await useBestBackend()` " +
  "from 'repae/backends'; if you choose the backend with tfjs's own `tf.setBackend`, call " +
  "`await registerGradients()` from 'repae/backends' after it (in a browser bundle this is required once before the first gradient).";

/**
 * Node: loads the gradient registry synchronously. tfjs-core's own `register_all_gradients` module
 * is ESM with extension-less imports, which plain Node cannot load, so it is bundled with esbuild
 * into CommonJS: at build time into `dist/tfjs-gradients.cjs` (an installed package), or, running
 * from the TypeScript sources (the repository's tests and CLI), at first use into the OS temp dir
 * with esbuild (a devDependency). The bundle's private copy of the tfjs internals registers into
 * the global gradient registry and engine that the consumer's tfjs-core instance uses.
 */
function registerInNode(): void {
  const { createRequire } = process.getBuiltinModule('node:module');
  const { existsSync, writeFileSync, renameSync, mkdirSync } = process.getBuiltinModule('node:fs');
  const { join, dirname } = process.getBuiltinModule('node:path');
  const { fileURLToPath } = process.getBuiltinModule('node:url');
  const { tmpdir } = process.getBuiltinModule('node:os');
  const require = createRequire(import.meta.url);
  // dist/src/backends/gradients.js → dist/tfjs-gradients.cjs (absent next to the .ts sources).
  const built = join(dirname(fileURLToPath(import.meta.url)), '..', '..', BUNDLE);
  if (existsSync(built)) {
    require(built);
    return;
  }
  const file = join(tmpdir(), 'repae-cache', `tfjs-gradients-${tf.version_core}.cjs`);
  if (!existsSync(file)) {
    let esbuild: { buildSync: (o: object) => { outputFiles: readonly { text: string }[] } };
    try {
      esbuild = require('esbuild') as typeof esbuild;
    } catch (e) {
      throw new Error(`registerGradients: ${built} is missing (run \`npm run build\`) and esbuild is not installed to bundle it (${String(e)})`);
    }
    const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    const out = esbuild.buildSync({ entryPoints: [entry], bundle: true, format: 'cjs', platform: 'node', write: false, logLevel: 'error' });
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, (out.outputFiles[0] as { text: string }).text);
    renameSync(tmp, file);
  }
  require(file);
}

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

/**
 * Makes sure tfjs's gradients are registered and the active backend has repae's kernel fixes,
 * synchronously (called by every `valueAndGrad`, so setting a backend with `tf.setBackend` works
 * too). In Node it registers the gradients itself on first use; in a browser, where that needs an
 * asynchronous import, it throws an error that says to `await registerGradients()` first.
 * @category backends
 */
export function ensureGradients(): void {
  if (!registered()) {
    if (!isNode) throw new Error(`tfjs gradients are not registered. ${HINT}`);
    registerInNode();
    if (!registered()) throw new Error(`registerGradients: tfjs gradients did not register. ${HINT}`);
  }
  patchBackend(tf.getBackend());
}

/**
 * Rethrows tfjs's "gradient function not found for X" / "kernel X not registered for backend Y"
 * errors with what to call to fix them; other errors pass through unchanged.
 * @category backends
 */
export function withSetupHint(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  if (!/gradient function not found|not registered for backend/.test(e.message) || e.message.includes(HINT)) return e;
  return new Error(`${e.message}. ${HINT}`, { cause: e });
}

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
