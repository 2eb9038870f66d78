/**
 * Issue 12's done-when test: the package as a new user gets it. Packs the project (`npm pack`,
 * which builds dist/ through `prepack`), installs the tarball into a fresh temporary project
 * (`npm install --prefer-offline` from the tarball; peers from the npm cache or registry, at the
 * versions this repository tests with), and there: runs the plain-Node example that trains a routed
 * loss and checks a law; type-checks a strict consumer under `nodenext` and `bundler` with
 * `skipLibCheck: false` (the README quickstart, with its `@ts-expect-error` routing violations, and
 * an import of every subpath); checks that tsc reads no file of ours but `.d.ts`; bundles a browser
 * entry with Vite; and checks that a consumer's own errors are printed as errors after wasm loads.
 * One install is shared by every case.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withSetupHint } from '../../src/backends/gradients.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const vite = join(root, 'node_modules/vite/bin/vite.js');
const version = (p: string): string => (JSON.parse(readFileSync(join(root, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
const examples = ['01-quickstart.ts', '02-train.mjs', '03-browser.ts'] as const;

let dir = '';

function sh(cmd: string, args: readonly string[], cwd: string, timeout = 240_000): SpawnSyncReturns<string> {
  // Strip npm's per-script settings (npm_config_*) so the consumer's npm sees a plain environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_')));
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env, maxBuffer: 64 << 20 });
}
function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`.slice(0, 8000));
  return r.stdout;
}
const write = (file: string, text: string): void => writeFileSync(join(dir, file), text);
const tsconfig = (module: string, resolution: string, files: readonly string[], extra: object = {}): string =>
  JSON.stringify({ compilerOptions: { target: 'ES2022', module, moduleResolution: resolution, strict: true, skipLibCheck: false, noEmit: true, ...extra }, files });
/** The files a tsc run read that belong to the installed package. */
const ours = (listing: string): string[] => listing.split('\n').map((l) => l.trim()).filter((l) => l.includes('/node_modules/repae/'));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'repae-consumer-'));
  // `npm pack` runs `prepack` (npm run build), whose output precedes the JSON report.
  const packOut = ok(sh('npm', ['pack', '--json', '--pack-destination', dir], root, 400_000), 'npm pack');
  const packed = JSON.parse(packOut.slice(packOut.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
  const tarball = join(dir, packed[0]!.filename);
  const shipped = packed[0]!.files.map((f) => f.path);
  write('shipped.json', JSON.stringify(shipped));
  write('package.json', JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  ok(
    sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `@tensorflow/tfjs-core@${version('@tensorflow/tfjs-core')}`, `fast-check@${version('fast-check')}`], dir, 400_000),
    'npm install',
  );
  for (const e of examples) cpSync(join(root, 'examples', e), join(dir, e));
  const subpaths = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> }).exports)
    .filter((k) => k !== './package.json')
    .map((k) => (k === '.' ? 'repae' : `repae/${k.slice(2)}`));
  write('all.ts', `${subpaths.map((s, i) => `import * as m${i} from '${s}';`).join('\n')}\nexport const all = [${subpaths.map((_, i) => `m${i}`).join(', ')}] as const;\n`);
  // The quickstart without its @ts-expect-error comments: the routing violations must be compile errors.
  write('violation.ts', readFileSync(join(root, 'examples/01-quickstart.ts'), 'utf8').replace(/^\s*\/\/ @ts-expect-error.*\n/gm, ''));
  write('tsconfig.nodenext.json', tsconfig('NodeNext', 'NodeNext', ['01-quickstart.ts', 'all.ts'], { noEmit: false, outDir: 'out' }));
  write('tsconfig.bundler.json', tsconfig('ESNext', 'bundler', ['01-quickstart.ts', '03-browser.ts', 'all.ts']));
  write('tsconfig.violation.json', tsconfig('NodeNext', 'NodeNext', ['violation.ts']));
  write('tsconfig.nodom.json', tsconfig('NodeNext', 'NodeNext', ['all.ts'], { lib: ['ES2022'] }));
  write('index.html', '<!doctype html><html><body><script type="module" src="./03-browser.ts"></script></body></html>\n');
  write('set-backend.mjs', [
    "// tfjs's own way of choosing a backend: repae's valueAndGrad registers the gradients itself.",
    "import * as tf from '@tensorflow/tfjs-core';",
    "import '@tensorflow/tfjs-backend-wasm';",
    "import { defineRegistry, mean, read, readScalar, square, tensor } from 'repae/core';",
    "await tf.setBackend('wasm');",
    "const r = defineRegistry({ groups: ['a'], frozen: [] });",
    "const l = r.loss('l', 'a', (v) => [mean(square(v.a.w)), {}]);",
    "const [value, grads] = r.valueAndGrad(l, 'a')({ a: { w: tensor([1, 2, 3], [3]) } }, {});",
    "console.log(tf.getBackend(), await readScalar(value), Array.from(await read(grads.a.w)).join(','));",
  ].join('\n'));
  write('throws.mjs', "import { useBackend } from 'repae/backends';\nawait useBackend('wasm');\nthrow new Error('consumer boom 42');\n");
  write('rejects.mjs', "import { useBackend } from 'repae/backends';\nawait useBackend('wasm');\nPromise.reject(new Error('consumer rejection 43'));\n");
}, 900_000);

afterAll(() => {
  if (dir !== '' && process.env['KEEP_CONSUMER'] === undefined) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package in a fresh project', () => {
  it('ships the build, not the repository (no tests, CI, web demo; no .ts but declarations under dist)', () => {
    const shipped = JSON.parse(readFileSync(join(dir, 'shipped.json'), 'utf8')) as string[];
    expect(shipped).toContain('dist/src/index.js');
    expect(shipped).toContain('dist/src/core/index.d.ts');
    expect(shipped).toContain('dist/src/core/index.d.ts.map');
    expect(shipped).toContain('dist/tfjs-gradients.cjs');
    expect(shipped.filter((f) => f !== 'scripts/build-native.mjs' && /^(test|web|\.ci|docs|scripts)\//.test(f))).toEqual([]);
    expect(shipped.filter((f) => f.startsWith('dist/') && f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(dir, 'node_modules/repae/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dev of ['tsx', 'esbuild', 'vite', 'typedoc', 'webgpu', '@tensorflow/tfjs-core', 'fast-check']) expect(Object.keys(pkg.dependencies)).not.toContain(dev);
    expect(readdirSync(join(dir, 'node_modules'))).not.toContain('webgpu');
    expect(readdirSync(join(dir, 'node_modules'))).not.toContain('tsx');
  });

  it('plain Node ESM: trains a tiny routed loss (loss falls, no tensor leaks) and the routing law holds', () => {
    const out = ok(sh('node', ['02-train.mjs'], dir), 'node 02-train.mjs');
    const m = /loss ([\d.]+) -> ([\d.]+); live tensors (\d+) -> (\d+)/.exec(out);
    expect(m, out).not.toBeNull();
    expect(Number(m![2])).toBeLessThan(0.5 * Number(m![1]));
    expect(m![4]).toBe(m![3]);
    expect(out).toContain('routing law holds');
  });

  it('the installed `repae` command runs the compiled dist/ (no tsx there)', () => {
    const out = ok(sh(join(dir, 'node_modules/.bin/repae'), ['backends'], dir), 'repae backends');
    expect(out).toMatch(/^wasm +available/m);
    expect(out).toMatch(/^webgpu +unavailable .*optional peer dependency 'webgpu'/m);
  });

  it("tfjs's own tf.setBackend works: valueAndGrad registers the gradients lazily", () => {
    const out = ok(sh('node', ['set-backend.mjs'], dir), 'node set-backend.mjs').trim();
    const [backend, value, grad] = out.split(' ');
    expect(backend).toBe('wasm');
    expect(Number(value)).toBeCloseTo(14 / 3, 5);
    expect(grad!.split(',').map(Number)).toEqual([2 / 3, 4 / 3, 2].map((x) => expect.closeTo(x, 5) as unknown as number));
  });

  it('strict nodenext consumer: type-checks with skipLibCheck false and default options, reads only our .d.ts, and the quickstart runs', () => {
    const listing = ok(sh('node', [tsc, '-p', 'tsconfig.nodenext.json', '--listFiles'], dir), 'tsc nodenext');
    const files = ours(listing);
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => !f.endsWith('.d.ts'))).toEqual([]);
    const out = ok(sh('node', ['out/01-quickstart.js'], dir), 'node out/01-quickstart.js');
    expect(out).toMatch(/^loss \d+\.\d+ grad of head\.w: computed$/m);
  });

  it('strict bundler consumer: type-checks (quickstart, browser entry, every subpath) and reads only our .d.ts', () => {
    const listing = ok(sh('node', [tsc, '-p', 'tsconfig.bundler.json', '--listFiles'], dir), 'tsc bundler');
    const files = ours(listing);
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('the routing violations the quickstart marks with @ts-expect-error are compile errors', () => {
    const r = sh('node', [tsc, '-p', 'tsconfig.violation.json'], dir);
    expect(r.status).not.toBe(0);
    const errors = r.stdout.split('\n').filter((l) => l.includes('error TS'));
    expect(errors).toHaveLength(2);
    expect(errors.every((l) => l.startsWith('violation.ts('))).toBe(true);
    expect(r.stdout).toMatch(/'"enc"' is not assignable to type '"head"'/);
    expect(r.stdout).toMatch(/is not assignable to type 'Scalar<"head">'/);
  });

  it('our declarations need no DOM lib (only tfjs-core and its @types/@webgpu dependencies do)', () => {
    const r = sh('node', [tsc, '-p', 'tsconfig.nodom.json'], dir);
    const errors = r.stdout.split('\n').filter((l) => l.includes('error TS'));
    const foreign = /^node_modules\/(@tensorflow\/tfjs-core|@types|@webgpu\/types)\//;
    expect(errors.filter((l) => !foreign.test(l))).toEqual([]);
  });

  it('Vite bundles a browser entry (no Node-only module reaches the bundle)', () => {
    const r = sh('node', [vite, 'build', '--outDir', 'web-dist', '--emptyOutDir', '--logLevel', 'warn'], dir);
    ok(r, 'vite build');
    const assets = readdirSync(join(dir, 'web-dist/assets')).filter((f) => f.endsWith('.js'));
    const code = assets.map((f) => readFileSync(join(dir, 'web-dist/assets', f), 'utf8')).join('\n');
    expect(code).toContain('gradient function not found'); // repae's setup hint made it into the bundle
    expect(assets.some((f) => f.startsWith('register_all_gradients'))).toBe(true); // tfjs's ESM gradients, imported in browsers
    expect(readdirSync(join(dir, 'web-dist/assets')).filter((f) => f.endsWith('.node'))).toEqual([]); // no Dawn binary
    expect(r.stdout + r.stderr).not.toMatch(/externalized for browser compatibility/);
  });

  it("a consumer's uncaught exception after the wasm backend loads is printed as that error", () => {
    const r = sh('node', ['throws.mjs'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr.length).toBeLessThan(2000);
    expect(r.stderr.split('\n')[0]).toMatch(/throws\.mjs:3$/);
    expect(r.stderr).toContain('Error: consumer boom 42');
    expect(r.stderr).not.toContain('tfjs-backend-wasm');
  });

  it("a consumer's unhandled rejection after the wasm backend loads is printed as that error", () => {
    const r = sh('node', ['rejects.mjs'], dir);
    expect(r.status).toBe(1);
    expect(r.stderr.length).toBeLessThan(2000);
    expect(r.stderr).toContain('Error: consumer rejection 43');
    expect(r.stderr).not.toContain('tfjs-backend-wasm');
  });
});

describe('the README library examples', () => {
  it('are the files in examples/, verbatim', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    for (const e of examples) {
      const text = readFileSync(join(root, 'examples', e), 'utf8');
      expect(readme, `README block for examples/${e}`).toContain(`\`\`\`${e.endsWith('.mjs') ? 'js' : 'ts'}\n${text}\`\`\``);
    }
  });

  it('a missing-gradient error from tfjs gets a hint saying what to call', () => {
    const e = withSetupHint(new Error('Cannot compute gradient: gradient function not found for Mean.'));
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toMatch(/gradient function not found for Mean.*useBackend.*registerGradients/s);
    const other = new Error('shapes [2] and [3] differ');
    expect(withSetupHint(other)).toBe(other);
  });
});
