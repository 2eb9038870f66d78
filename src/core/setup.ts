/**
 * @file Registers tfjs-core's gradient functions exactly once — in Node (CLI, examples, vitest, an
 * installed package) and in browsers — before the first gradient, and runs the backend layer's
 * kernel fixes through a hook that `src/backends` installs when it loads (the core imports nothing
 * above it; `setBackendSetup`).
 */
import * as tf from '@tensorflow/tfjs-core';

/** The name of the prebuilt gradient bundle that `npm run build` writes next to `dist/src/`. */
const BUNDLE = 'tfjs-gradients.cjs';
/** Whether this runs in Node (gradients register synchronously there). @internal */
export const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
/** Whether tfjs's gradients are registered. @internal */
export const registered = (): boolean => tf.getGradient('Multiply') !== undefined;

/** What to do when gradients or kernels are missing; appended to tfjs's terse errors. */
/** What to do when gradients or kernels are missing. @internal */
export const HINT =
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
  // dist/src/core/setup.js → dist/tfjs-gradients.cjs (absent next to the .ts sources).
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

let backendSetup: ((backend: string) => void) | undefined;

/**
 * Installs the function that sets up the active backend's kernel fixes before every gradient
 * (`src/backends` installs `patchBackend` when it loads); the core never imports the backends.
 * @category backends
 */
export function setBackendSetup(setup: (backend: string) => void): void {
  backendSetup = setup;
}

/**
 * Makes sure tfjs's gradients are registered and the active backend has repae's kernel fixes (through the
 * hook `setBackendSetup`; none until `src/backends` is loaded),
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
  backendSetup?.(tf.getBackend());
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

