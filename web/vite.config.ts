/**
 * @file Vite configuration of the web demo (`npm run web`, `npm run web:build` → `web/dist`).
 *
 * The page imports repae's TypeScript sources from `../src` directly. Two things make that work in
 * a browser bundle:
 *  - `src/` uses NodeNext import specifiers (`./x.js` for `./x.ts`). Vite resolves a `.js`
 *    specifier to the `.ts` file next to it when no `.js` file exists, so nothing needs rewriting.
 *  - A few modules on the page's import graph also serve Node (crash-safe file writes in
 *    `io/atomic.ts`, PNG files through `pngjs`, the Dawn/`webgpu`, `esbuild` and `tfjs-node-gpu`
 *    probes behind `isNode` checks). {@link nodeOnlyStubs} replaces those imports with stubs whose
 *    functions throw if they are ever called, so the browser bundle stays small and valid.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));

/** Bare imports that only make sense in Node; they never run in the page. */
const NODE_ONLY = /^(node:.*|webgpu|esbuild|pngjs|@tensorflow\/tfjs-node-gpu)$/;
/** Named exports the page's graph imports statically from non-builtin Node-only packages. */
const NAMED: Readonly<Record<string, readonly string[]>> = { pngjs: ['PNG'] };
const PREFIX = '\0repae-node-only:';

/**
 * Replaces Node-only imports with stubs: every export (for `node:` builtins the real module's
 * export names) is a function that throws `"<name> is not available in the browser"`.
 */
export function nodeOnlyStubs(): Plugin {
  return {
    name: 'repae:node-only-stubs',
    enforce: 'pre',
    resolveId(source) {
      return NODE_ONLY.test(source) ? PREFIX + source : null;
    },
    async load(id) {
      if (!id.startsWith(PREFIX)) return null;
      const name = id.slice(PREFIX.length);
      const names = name.startsWith('node:')
        ? Object.keys((await import(name)) as Record<string, unknown>)
        : [...(NAMED[name] ?? [])];
      const ok = names.filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      return [
        `const unavailable = (what) => function () { throw new Error(what + ' is not available in the browser'); };`,
        `const stub = new Proxy({}, { get: (_, k) => unavailable(${JSON.stringify(name)} + '.' + String(k)) });`,
        'export default stub;',
        ...ok.map((n) => `export const ${n} = unavailable(${JSON.stringify(`${name}.${n}`)});`),
      ].join('\n');
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  plugins: [nodeOnlyStubs()],
  // Pre-bundle tfjs up front (the gradient registry is imported dynamically; discovering it late
  // would make the dev server re-optimise and reload the page).
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-core/dist/register_all_gradients.js',
      '@tensorflow/tfjs-backend-cpu',
      '@tensorflow/tfjs-backend-wasm',
      '@tensorflow/tfjs-backend-webgpu',
    ],
  },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
  build: {
    outDir: resolve(here, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: { main: resolve(here, 'index.html'), golden: resolve(here, 'golden.html') } },
  },
});
