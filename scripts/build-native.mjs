#!/usr/bin/env node
// Builds the repae native addon (build/native/repae_native.node) from every native/*.cc with the
// system C++ compiler against libtorch. Incremental (an object is rebuilt when its source or any
// native/*.h is newer), parallel (one compile per core).
//
//   npm run build:native                 # Debian: apt-get install libtorch-dev libopenblas0-openmp
//   LIBTORCH=/opt/libtorch npm run build:native   # a libtorch distribution (include/, lib/), e.g. CUDA
//
// Options: --clean (rebuild everything), --jobs N, --verbose. CXX overrides the compiler (g++).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'native');
const outDir = join(root, 'build', 'native');
const objDir = join(outDir, 'obj');
const target = join(outDir, 'repae_native.node');
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const jobsArg = args.indexOf('--jobs');
const jobs = jobsArg >= 0 ? Math.max(1, Number(args[jobsArg + 1])) : Math.max(1, availableParallelism());
const cxx = process.env.CXX ?? 'g++';

function fail(msg) {
  console.error(`build:native: ${msg}`);
  process.exit(1);
}

// --- compiler
const probe = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
if (probe.error !== undefined || probe.status !== 0)
  fail(`C++ compiler '${cxx}' not found (Debian: apt-get install g++; or set CXX)`);

// --- node headers
const require = createRequire(import.meta.url);
let napiInclude, addonInclude;
try {
  napiInclude = join(dirname(require.resolve('node-api-headers/package.json')), 'include');
  addonInclude = dirname(require.resolve('node-addon-api/package.json'));
} catch {
  fail('node-api-headers / node-addon-api are missing: run npm ci (they are devDependencies)');
}

// --- libtorch
function findLibtorch() {
  const env = process.env.LIBTORCH;
  if (env !== undefined && env !== '') {
    const inc = join(env, 'include');
    const lib = join(env, 'lib');
    if (!existsSync(join(inc, 'ATen', 'ATen.h'))) fail(`LIBTORCH=${env}: ${inc}/ATen/ATen.h not found (LIBTORCH must be a libtorch distribution with include/ and lib/)`);
    if (!existsSync(join(lib, 'libtorch_cpu.so'))) fail(`LIBTORCH=${env}: ${lib}/libtorch_cpu.so not found`);
    return { source: `LIBTORCH=${env}`, includes: [inc, join(inc, 'torch', 'csrc', 'api', 'include')], libDir: lib };
  }
  const inc = '/usr/include';
  const libDir = '/usr/lib/x86_64-linux-gnu';
  if (existsSync(join(inc, 'ATen', 'ATen.h')) && existsSync(join(libDir, 'libtorch_cpu.so')))
    return { source: 'Debian libtorch-dev', includes: [join(inc, 'torch', 'csrc', 'api', 'include')], libDir };
  fail('libtorch not found: on Debian run `apt-get install libtorch-dev libopenblas0-openmp`, or set LIBTORCH to a libtorch distribution (include/, lib/; a CUDA build from pytorch.org for torch:cuda)');
}
const torch = findLibtorch();
const withCuda = existsSync(join(torch.libDir, 'libtorch_cuda.so')) && existsSync(join(torch.libDir, 'libc10_cuda.so'));
const defines = withCuda ? ['-DREPAE_WITH_CUDA=1'] : [];

const cflags = [
  '-std=c++17', '-O2', '-fPIC', '-fvisibility=hidden', '-Wall', '-Wno-unused-parameter', '-Wno-unused-variable',
  '-DNAPI_VERSION=8', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DNAPI_CPP_EXCEPTIONS', '-D_GLIBCXX_USE_CXX11_ABI=1',
  ...defines,
  `-I${napiInclude}`, `-I${addonInclude}`, ...torch.includes.map((i) => `-isystem${i}`),
];
const libs = ['-ltorch', '-ltorch_cpu', '-lc10', ...(withCuda ? ['-Wl,--no-as-needed', '-ltorch_cuda', '-lc10_cuda', '-Wl,--as-needed'] : [])];
const ldflags = ['-shared', `-L${torch.libDir}`, `-Wl,-rpath,${torch.libDir}`, ...libs, '-fopenmp'];

// --- sources
if (args.includes('--clean')) rmSync(outDir, { recursive: true, force: true });
mkdirSync(objDir, { recursive: true });
const files = readdirSync(srcDir);
const sources = files.filter((f) => f.endsWith('.cc')).sort();
if (sources.length === 0) fail(`no native/*.cc sources in ${srcDir}`);
const headerMtime = Math.max(0, ...files.filter((f) => f.endsWith('.h')).map((f) => statSync(join(srcDir, f)).mtimeMs));
const flagsStamp = JSON.stringify([cxx, cflags]);
const stampFile = join(objDir, 'flags.json');
const { readFileSync, writeFileSync } = await import('node:fs');
const flagsChanged = !existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== flagsStamp;

const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : -1);
const todo = sources.filter((s) => {
  const obj = join(objDir, s.replace(/\.cc$/, '.o'));
  const om = mtime(obj);
  return flagsChanged || om < statSync(join(srcDir, s)).mtimeMs || om < headerMtime;
});

function run(cmd, argv, label) {
  return new Promise((res, rej) => {
    if (verbose) console.log([cmd, ...argv].join(' '));
    const p = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', rej);
    p.on('close', (code) => (code === 0 ? res() : rej(new Error(`${label} failed (exit ${code})`))));
  });
}

const t0 = Date.now();
console.log(`build:native: ${torch.source}${withCuda ? ' (CUDA)' : ' (CPU only)'}; compiling ${todo.length}/${sources.length} sources with ${jobs} jobs`);
const queue = [...todo];
const errors = [];
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      const obj = join(objDir, s.replace(/\.cc$/, '.o'));
      const t = Date.now();
      try {
        await run(cxx, [...cflags, '-c', join(srcDir, s), '-o', `${obj}.tmp`], `compile native/${s}`);
        const { renameSync } = await import('node:fs');
        renameSync(`${obj}.tmp`, obj);
        console.log(`  ${s} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      } catch (e) {
        errors.push(e.message);
      }
    }
  }),
);
if (errors.length > 0) fail(errors.join('; '));
writeFileSync(stampFile, flagsStamp);

const objs = sources.map((s) => join(objDir, s.replace(/\.cc$/, '.o')));
const stale = todo.length > 0 || mtime(target) < Math.max(...objs.map(mtime));
if (stale) await run(cxx, [...objs, '-o', `${target}.tmp`, ...ldflags], 'link').catch((e) => fail(e.message));
if (stale) (await import('node:fs')).renameSync(`${target}.tmp`, target);
console.log(`build:native: ${stale ? 'built' : 'up to date'} ${target} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
