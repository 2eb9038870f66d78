/**
 * Browser-test harness: builds the web demo with Vite into a temp dir, serves it with `vite preview`
 * on 127.0.0.1 (random free port) with test-only routes for local files, and drives Debian's
 * Chromium through playwright-core (WebGPU via SwiftShader with `--enable-unsafe-webgpu`).
 */
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { build, preview, type Plugin, type PreviewServer } from 'vite';

/** The Chromium binary (`$REPAE_CHROMIUM` or Debian's `/usr/bin/chromium`). */
export const chromiumPath = process.env['REPAE_CHROMIUM'] ?? '/usr/bin/chromium';
/** True when that binary exists. */
export const haveChromium = existsSync(chromiumPath);
/** True on CI (`CI=true`), where missing browser support must fail rather than skip. */
export const inCI = process.env['CI'] === 'true' || process.env['CI'] === '1';

const root = resolve(import.meta.dirname, '..', '..');
const configFile = join(root, 'web', 'vite.config.ts');

/**
 * A test-only route: `GET /<prefix>/<file>` answers with `dir/<file>` (flat names only, `.json`
 * and `.safetensors`), in `vite preview` and `vite dev` alike.
 */
export function serveDir(prefix: string, dir: string): Plugin {
  const types: Readonly<Record<string, string>> = { json: 'application/json', safetensors: 'application/octet-stream' };
  const handler = (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const m = new RegExp(`^/${prefix}/([\\w.-]+)\\.(json|safetensors)$`).exec((req.url ?? '').split('?')[0] ?? '');
    if (m === null) return next();
    const file = join(dir, basename(`${m[1]}.${m[2]}`));
    if (!existsSync(file)) {
      res.statusCode = 404;
      res.end(`not found: ${file}`);
      return;
    }
    res.setHeader('Content-Type', types[m[2] as string] as string);
    res.setHeader('Content-Length', String(statSync(file).size));
    createReadStream(file).pipe(res);
  };
  return {
    name: `repae-test:serve-${prefix}`,
    configureServer: (server) => void server.middlewares.use(handler),
    configurePreviewServer: (server) => void server.middlewares.use(handler),
  };
}

/** A free TCP port on 127.0.0.1 (asked from the OS; Vite would treat port 0 as "its default port"). */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createNetServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr !== null && typeof addr === 'object' ? done(addr.port) : fail(new Error('no port'))));
    });
  });
}

/** A running preview of the web demo. */
export interface WebServer {
  readonly url: string;
  /** Seconds spent building. */
  readonly buildSeconds: number;
  close(): Promise<void>;
}

/** Builds `web/` into a temp dir and serves it on 127.0.0.1 with a free port, plus `plugins`. */
export async function startWebServer(plugins: readonly Plugin[]): Promise<WebServer> {
  const outDir = mkdtempSync(join(tmpdir(), 'repae-web-'));
  const t0 = performance.now();
  await build({ configFile, logLevel: 'error', build: { outDir, emptyOutDir: true, reportCompressedSize: false } });
  const buildSeconds = (performance.now() - t0) / 1000;
  let server: PreviewServer;
  try {
    server = await preview({ configFile, logLevel: 'error', plugins: [...plugins], build: { outDir }, preview: { host: '127.0.0.1', port: await freePort(), strictPort: true, open: false } });
  } catch (e) {
    rmSync(outDir, { recursive: true, force: true });
    throw e;
  }
  const addr = server.httpServer.address();
  if (addr === null || typeof addr === 'string') throw new Error(`vite preview: unexpected address ${String(addr)}`);
  return {
    url: `http://127.0.0.1:${addr.port}/`,
    buildSeconds,
    close: async () => {
      await server.close();
      rmSync(outDir, { recursive: true, force: true });
    },
  };
}

/** A headless Chromium with WebGPU enabled, in a fresh profile that is removed on close. */
export async function launchChromium(): Promise<{ readonly context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'repae-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1100, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
