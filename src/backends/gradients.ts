/** @file Registers tfjs-core's gradient functions exactly once, in Node (CLI, examples, vitest) and in browsers. */
import * as tf from '@tensorflow/tfjs-core';

let done: Promise<void> | undefined;

/**
 * Registers every tfjs-core gradient (idempotent). tfjs-core's own `register_all_gradients` module
 * is ESM with extension-less imports, which plain Node cannot load; in Node we bundle it once with
 * esbuild into CommonJS (cached under the OS temp dir) and `require` it. Its private copy of the
 * tfjs internals registers into the same global gradient registry as the main tfjs-core instance.
 * In a browser bundle (Vite) the ESM module is imported directly.
 * @category backends
 */
export function registerGradients(): Promise<void> {
  done ??= (async () => {
    if (tf.getGradient('Multiply') !== undefined) return;
    const isNode = typeof process !== 'undefined' && process.versions?.node !== undefined;
    if (!isNode) {
      await import(/* @vite-ignore */ '@tensorflow/tfjs-core/dist/register_all_gradients.js' as string);
      return;
    }
    const { createRequire } = await import('node:module');
    const { existsSync, writeFileSync, renameSync, mkdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const require = createRequire(import.meta.url);
    const entry = require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    const dir = join(tmpdir(), 'repae-cache');
    const file = join(dir, `tfjs-gradients-${tf.version_core}.cjs`);
    if (!existsSync(file)) {
      const esbuild = (await import('esbuild')) as typeof import('esbuild');
      const out = esbuild.buildSync({ entryPoints: [entry], bundle: true, format: 'cjs', platform: 'node', write: false, logLevel: 'error' });
      mkdirSync(dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, (out.outputFiles[0] as { text: string }).text);
      renameSync(tmp, file);
    }
    require(file);
    if (tf.getGradient('Multiply') === undefined) throw new Error('registerGradients: tfjs gradients did not register');
  })();
  return done;
}
