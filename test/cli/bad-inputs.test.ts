/**
 * Every bad input of issue 13 (and more) through the real CLI in a child process
 * (`node bin/repae.mjs ...`): the exit code, a stderr that names the fault in a few lines with no
 * minified Emscripten code, and no file of the fixtures changed, removed or added (hashes before
 * and after). Each case fails before any training starts.
 */
import { demoAssetsDir } from '../../src/cli/demo-assets.js';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot } from '../helpers/snapshot.js';
import { useBackend } from '../../src/backends/index.js';
import { exportVae } from '../../src/cli/cmd-export-vae.js';
import { describeError, ownFrames, REPORT_HINT, UsageError } from '../../src/cli/errors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/tensors.js';
import { writeTinyRun } from '../generate/tiny-run.js';

const root = resolve(import.meta.dirname, '..', '..');
const fx = mkdtempSync(join(tmpdir(), 'repae-bad-'));
const cwd = join(fx, 'cwd');

/** Result of one child CLI run. */
interface Child { readonly code: number | null; readonly out: string; readonly err: string; readonly ms: number }

let running = 0;
const waiting: (() => void)[] = [];
/** Runs `node bin/repae.mjs ...args` in `cwd`, at most 3 at a time (the machine has 2 cores). */
async function cli(args: readonly string[], dir = cwd): Promise<Child> {
  if (running >= 3) await new Promise<void>((r) => waiting.push(r));
  running++;
  const t0 = performance.now();
  try {
    return await new Promise<Child>((done, fail) => {
      const c = spawn(process.execPath, [join(root, 'bin', 'repae.mjs'), ...args], { cwd: dir, env: { ...process.env, XDG_RUNTIME_DIR: tmpdir() }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '', err = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      c.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      const timer = setTimeout(() => c.kill('SIGKILL'), 90_000);
      c.on('error', fail);
      c.on('close', (code) => { clearTimeout(timer); done({ code, out, err, ms: performance.now() - t0 }); });
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** Flips one byte in the middle of a file (same size: only the CRC can tell). */
function flipByte(file: string): void {
  const fd = openSync(file, 'r+');
  const at = Math.floor(statSync(file).size * 0.75), b = new Uint8Array(1);
  readSync(fd, b, 0, 1, at);
  b[0] = (b[0] as number) ^ 0x5a;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

let before = new Map<string, string>();
const P: Record<string, string> = {};

beforeAll(async () => {
  await useBackend('wasm');
  mkdirSync(cwd);
  P['run'] = await writeTinyRun(fx); // <fx>/tiny, checkpoint 0000100
  P['assets'] = demoAssetsDir();
  exportVae(P['run'], { saveDir: join(fx, 'vae') });
  P['vae'] = join(fx, 'vae', 'e2e-vae', 'e2e-vae.safetensors');
  P['flipped'] = join(fx, 'flipped');
  cpSync(P['run'], P['flipped'], { recursive: true });
  flipByte(join(P['flipped'], 'checkpoints', '0000100', 'ema.safetensors'));
  // latents (the tiny VAE is f2 with 4 channels at 16 px → [N, 8, 8, 4]) and the same relabelled I32
  const z = Float32Array.from({ length: 2 * 8 * 8 * 4 }, (_, i) => Math.sin(i));
  P['lat'] = join(fx, 'lat.safetensors');
  writeSafetensorsFile(P['lat'], new Map([['latents', { dtype: 'F32' as const, shape: [2, 8, 8, 4], data: z }]]));
  writeFileSync(join(fx, 'lat.png'), 'an earlier grid');
  P['lati32'] = join(fx, 'lat-i32.safetensors');
  writeSafetensorsFile(P['lati32'], new Map([['latents', { dtype: 'I32' as const, shape: [2, 8, 8, 4], data: Int32Array.from(z, (v) => Math.round(v * 1e6)) }]]));
  // a VAE whose encoder.conv_in.weight has its dimensions swapped
  const v = readSafetensorsFile(P['vae']);
  const swapped = new Map([...v.entries].map(([k, e]) => [k, { dtype: e.dtype, shape: k === 'encoder.conv_in.weight' ? [...e.shape].reverse() : e.shape, data: e.data }]));
  P['swapped'] = join(fx, 'swapped-vae.safetensors');
  writeSafetensorsFile(P['swapped'], swapped);
  // an image folder whose only image is not an image
  mkdirSync(join(fx, 'imgs', 'cats'), { recursive: true });
  writeFileSync(join(fx, 'imgs', 'cats', 'broken.png'), 'this is not a PNG');
  for (const [k, f] of [['npz', 'old.npz'], ['json', 'eval-old.json'], ['bench', 'bench-old.json'], ['weights', 'W.safetensors']] as const) {
    P[k] = join(fx, f);
    writeFileSync(P[k], `precious ${f}`);
  }
  mkdirSync(join(fx, 'demo-out', 'demo'), { recursive: true });
  writeFileSync(join(fx, 'demo-out', 'demo', 'report.md'), 'an earlier demo');
  before = snapshot(fx);
});
afterAll(() => rmSync(fx, { recursive: true, force: true }));

/** Tiny model flags that pass every rule (so one bad flag is the only fault). */
const OK = ['--output-dir', 'OUT', '--backend', 'wasm', '--encoder-steps', '0'];

/** [name, argv (P keys in {braces}), exit code, what stderr must match]. */
const cases: readonly (readonly [string, readonly string[], number, RegExp])[] = [
  // --- train: flags and config rules (all before any work)
  ['train: missing --data-dir', ['train', ...OK, '--data-dir', '/nope'], 1, /--data-dir: '\/nope' does not exist/],
  ['train: --vae-ch 8', ['train', ...OK, '--vae-ch', '8'], 1, /--vae-ch 8 with --vae-ch-mult 1,1,2: level widths 8, 8, 16 are not a multiple of 32/],
  ['train: --sit-heads 3', ['train', ...OK, '--sit-heads', '3'], 1, /--sit-heads 3: --sit-hidden 64 is not divisible by it/],
  ['train: --resolution 30', ['train', ...OK, '--resolution', '30'], 1, /--resolution 30: not divisible by the VAE downsampling factor 4/],
  ['train: --encoder-depth > depth', ['train', ...OK, '--encoder-depth', '9'], 1, /--encoder-depth 9: exceeds --sit-depth 4/],
  ['train: batch larger than the dataset', ['train', ...OK, '--data-dir', 'builtin:shapes:8', '--batch-size', '16'], 1, /--batch-size 16: the dataset .* has only 8 images/],
  ['train: unreadable image', ['train', ...OK, '--data-dir', '{fx}/imgs', '--batch-size', '1'], 1, /broken\.png/],
  ['train: --vae-ch-mult 1,x,2', ['train', ...OK, '--vae-ch-mult', '1,x,2'], 1, /--vae-ch-mult: item 2 of '1,x,2' is 'x', not a positive integer/],
  ['train: --vae-ch-mult 1,2 (tokens) fails before the encoder trains', ['train', ...OK.slice(0, 4), '--vae-ch-mult', '1,2'], 1, /--enc-type builtin gives 4×4 = 16 tokens .* = 64/],
  ['train: --batch-size abc', ['train', ...OK, '--batch-size', 'abc'], 1, /--batch-size: expected a number, got 'abc'/],
  ['train: --learning-rate -1', ['train', ...OK, '--learning-rate', '-1'], 1, /--learning-rate: expected a positive number, got -1/],
  ['train: --mode foo', ['train', ...OK, '--mode', 'foo'], 1, /--mode: expected one of repae-e, ldm, vanilla, naive-e2e, got "foo"/],
  ['train: --patch-size 3', ['train', ...OK, '--patch-size', '3'], 1, /--patch-size 3: the latent side --resolution 32 \/ 4 = 8 is not divisible by it/],
  ['train: --disc-layers 5', ['train', ...OK, '--disc-layers', '5'], 1, /--disc-layers 5: too many for --resolution 32/],
  ['train: --model SiT-B/2 would be ignored', ['train', ...OK, '--model', 'SiT-B/2'], 1, /--model SiT-B\/2: repae train builds the SiT from/],
  ['train: --data-dir builtin:shapes:x', ['train', ...OK, '--data-dir', 'builtin:shapes:x'], 1, /--data-dir: 'builtin:shapes:x' is not builtin:shapes/],
  ['train: two rules at once', ['train', ...OK, '--sit-heads', '3', '--encoder-depth', '9'], 1, /breaks 2 rules\n.*--sit-heads 3.*\n.*--encoder-depth 9/],
  // --- train: the command line itself
  ['train: a switch given a value (--qk-norm maybe)', ['train', ...OK, '--qk-norm', 'maybe'], 2, /unexpected argument 'maybe' \(--qk-norm is a switch/],
  ['train: single-dash flag (-batch-size 4)', ['train', ...OK, '-batch-size', '4'], 2, /'-batch-size' is not a flag: flags start with two dashes \(did you mean --batch-size\?\)/],
  ['train: stray positional argument', ['train', ...OK, 'now'], 2, /unexpected argument 'now'/],
  ['train: misspelt flag', ['train', ...OK, '--bach-size', '4'], 2, /unknown flag --bach-size/],
  ['train: --resume=false over an existing run', ['train', '--output-dir', '{fx}', '--exp-name', 'tiny', '--resume=false'], 1, /run directory '.*tiny' already exists; .*--force/],
  ['train: resume with other flags', ['train', '--output-dir', '{fx}', '--exp-name', 'tiny', '--mode', 'ldm'], 1, /resuming would change the experiment.*--mode "repae-e" → "ldm"/],
  // --- golden
  ['golden: missing directory', ['golden', '/nope'], 2, /fixture directory '\/nope' does not exist/],
  ['golden: two directories', ['golden', '{fx}', '{fx}'], 2, /unexpected argument/],
  ['golden: bad --backend', ['golden', '{fx}', '--backend', 'gpu'], 2, /--backend expects one of .*, got 'gpu'/],
  // --- sample / export-vae: checkpoints are CRC-checked
  ['sample: flipped byte in a checkpoint', ['sample', '--run', '{flipped}', '--backend', 'wasm', '--num-samples', '1', '--out', 'OUT'], 1, /ema\.safetensors fails its CRC-32 check/],
  ['sample: missing run', ['sample', '--run', '/nope'], 1, /\/nope: no such run or checkpoint directory/],
  ['export-vae: flipped byte in a checkpoint', ['export-vae', '--run', '{flipped}', '--save-dir', 'OUT'], 1, /ema\.safetensors fails its CRC-32 check/],
  ['export-vae: an earlier export is not replaced', ['export-vae', '--run', '{run}', '--save-dir', '{fx}/vae'], 1, /e2e-vae\.safetensors' already exists; pass --force/],
  // --- encode / decode: outputs never replace inputs or existing files
  ['encode: --out is the --vae', ['encode', '--vae', '{vae}', '--out', '{vae}', '--data', 'builtin:shapes:4'], 2, /--out '.*e2e-vae\.safetensors' is the same file as --vae/],
  ['encode: --out exists', ['encode', '--vae', '{vae}', '--out', '{weights}', '--data', 'builtin:shapes:4'], 1, /--out '.*W\.safetensors' already exists; pass --force/],
  ['encode: missing VAE', ['encode', '--vae', '/nope.safetensors', '--out', 'OUT/z.safetensors', '--data', 'builtin:shapes:4', '--backend', 'wasm'], 1, /\/nope\.safetensors: no such VAE/],
  ['decode: --npz is a weights file', ['decode', '--latents', '{lat}', '--vae', '{vae}', '--out', 'OUT/g.png', '--npz', '{weights}'], 2, /--npz must name a \.npz file/],
  ['decode: --npz exists', ['decode', '--latents', '{lat}', '--vae', '{vae}', '--out', 'OUT/g.png', '--npz', '{npz}'], 1, /--npz '.*old\.npz' already exists/],
  ['decode: default --out <latents>.png exists', ['decode', '--latents', '{lat}', '--vae', '{vae}'], 1, /--out '.*lat\.png' already exists/],
  ['decode: missing --latents file', ['decode', '--latents', '/nope.safetensors', '--vae', '{vae}'], 2, /--latents '\/nope\.safetensors': no such file/],
  ['decode: latents relabelled I32', ['decode', '--latents', '{lati32}', '--vae', '{vae}', '--out', 'OUT/g.png'], 2, /lat-i32\.safetensors: entry 'latents' has dtype I32, expected float latents/],
  ['decode: swapped conv_in.weight is named', ['decode', '--latents', '{lat}', '--vae', '{swapped}', '--out', 'OUT/g.png', '--backend', 'wasm'], 1, /'encoder\.conv_in\.weight' has shape \[3, 3, 3, 32\], expected \[out, in, kh, kw\] with out = 32/],
  // --- eval / bench / demo / experiment / backends
  ['eval: --json exists', ['eval', '--metrics', 'vae', '--data', 'builtin:shapes:4', '--vae', '{vae}', '--json', '{json}'], 1, /--json '.*eval-old\.json' already exists/],
  ['eval: bad --metrics', ['eval', '--metrics', 'fid'], 2, /--metrics: unknown metric 'fid'/],
  ['bench: --out exists', ['bench', '--backends', 'cpu', '--cases', 'matmul-8', '--out', '{bench}'], 1, /--out '.*bench-old\.json' already exists/],
  ['demo: an earlier demo is not deleted', ['demo', '--output-dir', '{fx}/demo-out'], 1, /demo run directory '.*demo' already exists; pass --force/],
  ['demo: --steps abc', ['demo', '--output-dir', 'OUT', '--steps', 'abc'], 2, /--steps expects a number, got 'abc'/],
  ['demo: --assets and --from-scratch', ['demo', '--output-dir', 'OUT', '--assets', '/nope', '--from-scratch'], 2, /--assets and --from-scratch exclude each other/],
  ['demo: --assets with no assets', ['demo', '--output-dir', 'OUT', '--assets', '/nope'], 1, /demo assets: no complete checkpoint in '\/nope' \(make them with `npm run demo:assets -- --out \/nope`/],
  ['demo: --backend nonsense', ['demo', '--output-dir', 'OUT', '--backend', 'tpu'], 2, /--backend expects auto or one of/],
  ['demo-assets: the shipped assets are not replaced', ['demo-assets', '--out', '{assets}'], 1, /demo assets '.*assets\/demo-init' already exists; pass --force/],
  ['demo-assets: --vae-steps x', ['demo-assets', '--out', 'OUT', '--vae-steps', 'x'], 2, /--vae-steps expects a number, got 'x'/],
  ['experiment: missing shared data', ['experiment', '--shared', '/nope', '--out', 'OUT'], 2, /--shared \/nope: no cifar10-subset-png/],
  ['backends: stray argument', ['backends', 'all'], 2, /unexpected argument 'all'/],
  ['unknown command', ['trian'], 2, /unknown command 'trian'/],
];

const fill = (a: string): string => a.replace(/\{(\w+)\}/g, (_, k: string) => (k === 'fx' ? fx : (P[k] as string))).replace(/^OUT/, join(cwd, 'out'));

describe('bad inputs through the real CLI', () => {
  it.concurrent.each(cases)('%s', async (_name, argv, code, re) => {
    const r = await cli(argv.map(fill));
    const err = r.err.trim();
    expect(r.code, `stderr: ${err.slice(0, 2000)}\nstdout: ${r.out.slice(-500)}`).toBe(code);
    expect(err).toMatch(re);
    // a few lines, naming the fault; never a stack of node_modules frames or minified glue
    const lines = err.split('\n');
    expect(lines.length, err).toBeLessThanOrEqual(4);
    expect(lines.every((l) => l.length < 700), err).toBe(true);
    expect(err).not.toMatch(/node_modules|var Module|tfjs-backend-wasm\.js|^\s+at /m);
    expect(lines.some((l) => l.startsWith(`repae ${argv[0]}: `) || l.startsWith('repae: ')), err).toBe(true);
    // nothing of the fixtures changed, disappeared or appeared
    expect(snapshot(fx)).toEqual(before);
  });
});

describe('internal errors', () => {
  it('print a short stack of our own frames and where to report, with exit code 70', () => {
    const e = new TypeError('x.y is undefined');
    e.stack = [
      'TypeError: x.y is undefined',
      '    at stepOnce (/repo/src/train/loop.ts:10:5)',
      '    at Module.minified (/repo/node_modules/@tensorflow/tfjs-backend-wasm/dist/wasm-out/tfjs-backend-wasm.js:9:12345)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      '    at async main (/repo/src/cli/main.ts:40:12)',
    ].join('\n');
    const r = describeError('train', e);
    expect(r.code).toBe(70);
    expect(r.internal).toBe(true);
    expect(r.text.split('\n')).toEqual([
      'repae train: internal error: TypeError: x.y is undefined',
      '    at stepOnce (/repo/src/train/loop.ts:10:5)',
      '    at async main (/repo/src/cli/main.ts:40:12)',
      REPORT_HINT,
    ]);
    expect(ownFrames(undefined)).toEqual([]);
  });
  it('expected errors keep their exit code and print no stack', () => {
    const r = describeError('sample', new UsageError('--seed expects an integer ≥ 0, got \'x\''));
    expect(r).toEqual({ code: 2, text: "repae sample: --seed expects an integer ≥ 0, got 'x'", internal: false });
    const fsErr = Object.assign(new Error("ENOENT: no such file or directory, open '/nope'"), { code: 'ENOENT', path: '/nope', syscall: 'open' });
    expect(describeError('decode', fsErr).text).toBe('repae decode: /nope: no such file or directory (open)');
  });
});

describe('default outputs of a run go inside that run', () => {
  it('export-vae writes into the run directory, and a second export of another run does not replace it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'repae-exp-'));
    try {
      const a = join(dir, 'a'), b = join(dir, 'b');
      cpSync(P['run'] as string, a, { recursive: true });
      cpSync(P['run'] as string, b, { recursive: true });
      mkdirSync(join(dir, 'cwd'));
      for (const run of [a, b]) {
        const r = await cli(['export-vae', '--run', run], join(dir, 'cwd'));
        expect(r.code, r.err).toBe(0);
        for (const f of ['e2e-vae/e2e-vae.safetensors', 'e2e-vae/e2e-vae-latents-stats.safetensors', 'e2e-vae-hf/config.json']) expect(existsSync(join(run, f)), f).toBe(true);
      }
      expect(readdirSync(join(dir, 'cwd'))).toEqual([]);
      const again = await cli(['export-vae', '--run', a], join(dir, 'cwd'));
      expect(again.code).toBe(1);
      const forced = await cli(['export-vae', '--run', a, '--force'], join(dir, 'cwd'));
      expect(forced.code, forced.err).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
