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
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { latestCheckpoint } from '../src/io/checkpoint.js';

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

/** What `GET repae-run/latest.json` answers: the newest complete checkpoint under the runs folder (or `{ none: why }`). */
export interface LatestRun {
  /** The run directory, relative to the runs folder (e.g. `demo`). */
  readonly name: string;
  readonly step: number;
  /** The checkpoint directory, relative to the runs folder. */
  readonly checkpoint: string;
  /** When its `COMPLETE` marker was written (ISO time). */
  readonly completed: string;
  /** The run configuration (`state.json`'s `state.config`, a RunConfig). */
  readonly config: Record<string, unknown>;
  /** The SiT section the page loads (`ema`, else `sit`) and the VAE section. */
  readonly sit: string;
  readonly vae: string;
}

/** The runs folder the page offers: `$REPAE_RUNS_DIR`, else `runs/` at the project root (where `npm start` writes). */
export const runsDir = (): string => resolve(process.env['REPAE_RUNS_DIR'] ?? join(here, '..', 'runs'));

/**
 * The newest complete checkpoint (by its `COMPLETE` marker's time) of any run directly under
 * `root` that has a SiT (`ema` or `sit`) and a `vae` section and its config; undefined and why
 * when there is none.
 */
export function findLatestRun(root: string): { readonly run?: LatestRun & { readonly path: string }; readonly why?: string } {
  if (!existsSync(root)) return { why: `${root} does not exist (run npm start first)` };
  let best: (LatestRun & { readonly path: string }) | undefined;
  let bestT = -Infinity;
  const notes: string[] = [];
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!existsSync(join(dir, 'checkpoints'))) continue;
    const { latest } = latestCheckpoint(dir);
    if (latest === undefined) { notes.push(`${name}: no complete checkpoint`); continue; }
    const sit = ['ema', 'sit'].find((x) => latest.sections.includes(x));
    if (sit === undefined || !latest.sections.includes('vae')) { notes.push(`${name}: checkpoint ${latest.step} has no ema/sit + vae sections`); continue; }
    const state = JSON.parse(readFileSync(join(latest.path, 'state.json'), 'utf8')) as { state?: { config?: unknown } };
    const config = state.state?.config;
    if (typeof config !== 'object' || config === null || Array.isArray(config)) { notes.push(`${name}: state.json has no config`); continue; }
    const t = statSync(join(latest.path, 'COMPLETE')).mtimeMs;
    if (t > bestT) {
      bestT = t;
      best = { name, step: latest.step, checkpoint: relative(root, latest.path), completed: new Date(t).toISOString(), config: config as Record<string, unknown>, sit, vae: 'vae', path: latest.path };
    }
  }
  if (best === undefined) return { why: `no run under ${root} has a complete checkpoint with a SiT and a VAE${notes.length > 0 ? ` (${notes.join('; ')})` : ''}` };
  return { run: best };
}

/**
 * Serves the latest local run to the page: `GET repae-run/latest.json` ({@link LatestRun}, or
 * `{ none: why }`) and `GET repae-run/<section>.safetensors` (that checkpoint's section files), in
 * `vite` (dev) and `vite preview` alike. A static build has neither, and the page then offers
 * nothing.
 */
export function latestRunServer(root: () => string = runsDir): Plugin {
  const handler = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const url = (req.url ?? '').split('?')[0] ?? '';
    const m = /\/repae-run\/(latest\.json|([\w-]+)\.safetensors)$/.exec(url);
    if (m === null) return next();
    const fail = (code: number, why: string): void => {
      res.statusCode = code;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ error: why }));
    };
    try {
      const found = findLatestRun(root());
      if (m[1] === 'latest.json') {
        // 200 either way (a missing run is an answer, not an error the browser console shows).
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Cache-Control', 'no-store');
        res.end(JSON.stringify(found.run === undefined ? { none: found.why ?? 'no run' } : (({ path: _p, ...run }) => run)(found.run)));
        return;
      }
      if (found.run === undefined) return fail(404, found.why ?? 'no run');
      const { path, ...run } = found.run;
      const section = m[2] as string;
      if (section !== run.sit && section !== run.vae) return fail(404, `the page reads only sections ${run.sit} and ${run.vae}, not '${section}'`);
      const file = join(path, `${section}.safetensors`);
      res.setHeader('Content-Type', 'application/octet-stream');
      res.setHeader('Content-Length', String(statSync(file).size));
      res.setHeader('Cache-Control', 'no-store');
      createReadStream(file).pipe(res);
    } catch (e) {
      fail(500, e instanceof Error ? e.message : String(e));
    }
  };
  return {
    name: 'repae:latest-run',
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

export default defineConfig({
  root: here,
  base: './',
  plugins: [nodeOnlyStubs(), latestRunServer()],
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
