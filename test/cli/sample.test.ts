/** `repae sample` end to end on a tiny run directory, its --help, strict flags and path-naming errors. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend, type BackendName } from '../../src/backends/index.js';
import { readNpz } from '../../src/io/npz.js';
import { decodePng } from '../../src/io/png.js';
import { writeSafetensorsFile } from '../../src/io/tensors.js';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { testBackends } from '../helpers/backends.js';
import { writeTinyRun } from '../generate/tiny-run.js';
import { repae } from './run-cli.js';

const backend = (testBackends.includes('wasm') ? 'wasm' : testBackends[0]) as BackendName;
const tmp = mkdtempSync(join(tmpdir(), 'repae-cli-sample-'));
let run = '';
beforeAll(async () => {
  await useBackend(backend);
  run = await writeTinyRun(tmp);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.runIf(testBackends.length > 0)(`repae sample [${backend}]`, () => {
  it('samples a run into <run>/samples: npz arr_0 uint8 [N, 16, 16, 3] and a grid PNG', async () => {
    const r = await repae('sample', '--run', run, '--num-samples', '6', '--batch-size', '4', '--num-steps', '2', '--backend', backend, '--labels', 'balanced');
    expect(r.code).toBe(0);
    const name = 'tiny_0000100_euler2_cfg1-0-1_seed0';
    const npz = join(run, 'samples', `${name}.npz`);
    expect(r.out).toContain(`wrote ${npz} (arr_0 uint8 [6, 16, 16, 3])`);
    const a = readNpz(new Uint8Array(readFileSync(npz)));
    expect(a.get('arr_0')?.shape).toEqual([6, 16, 16, 3]);
    expect(Array.from(a.get('labels')?.data ?? [])).toEqual([0, 1, 2, 3, 0, 1]);
    const png = decodePng(new Uint8Array(readFileSync(join(run, 'samples', `${name}.png`))));
    expect([png.width, png.height]).toEqual([3 * 18 + 2, 2 * 18 + 2]);
    expect(r.err).toMatch(/sample tiny_0000100_euler2_cfg1-0-1_seed0 \[#+\] 6\/6 \(100%\)/);
    const again = await repae('sample', '--run', run, '--num-samples', '6', '--batch-size', '4', '--num-steps', '2', '--backend', backend, '--labels', 'balanced');
    expect(again.out).toContain(`${npz} already exists; nothing to do`);
  });

  it('samples from explicit --sit/--vae/--config files, with SDE and guidance', async () => {
    const ck = loadCheckpoint(join(run, 'checkpoints', '0000100'), { sections: ['ema', 'vae'] });
    writeSafetensorsFile(join(tmp, 'ema.safetensors'), ck.sections['ema']!.entries);
    writeSafetensorsFile(join(tmp, 'vae.safetensors'), ck.sections['vae']!.entries);
    const out = join(tmp, 'files');
    const r = await repae('sample', '--sit', join(tmp, 'ema.safetensors'), '--vae', join(tmp, 'vae.safetensors'), '--config', join(run, 'checkpoints', '0000100', 'state.json'),
      '--num-samples', '2', '--sampler', 'sde', '--num-steps', '3', '--cfg-scale', '1.5', '--guidance-high', '0.7', '--out', out, '--name', 'x', '--backend', backend);
    expect(r.code).toBe(0);
    expect(readNpz(new Uint8Array(readFileSync(join(out, 'x.npz')))).get('arr_0')?.shape).toEqual([2, 16, 16, 3]);
    expect(existsSync(join(out, 'x.png'))).toBe(true);
  });

  it('prints its --help', async () => {
    const r = await repae('sample', '--help');
    expect(r.code).toBe(0);
    for (const f of ['--run DIR', '--sampler NAME', '--cfg-scale', '--guidance-low', '--labels MODE', '--num-samples', '--backend']) expect(r.out).toContain(f);
  });

  it('rejects bad flags, naming the flag', async () => {
    const bad: [string[], RegExp][] = [
      [['--run', run, '--num-stpes', '3'], /unknown flag --num-stpes/],
      [['--run', run, '--sampler', 'ddim'], /--sampler expects one of euler, heun, sde, got 'ddim'/],
      [['--run', run, '--cfg-scale', 'lots'], /--cfg-scale expects a number, got 'lots'/],
      [['--run', run, '--cfg-scale', '0.5'], /--cfg-scale expects a number ≥ 1/],
      [['--run', run, '--num-samples', '2.5'], /--num-samples expects an integer ≥ 1, got '2.5'/],
      [['--run', run, '--num-steps'], /flag --num-steps needs a value/],
      [['--run', run, '--backend', 'tpu'], /--backend expects auto or one of/],
      [['--sit', 'a.safetensors'], /--sit needs --vae and --config/],
      [[], /no models: give --run DIR/],
    ];
    for (const [args, re] of bad) {
      const r = await repae('sample', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(re);
    }
  });

  it('names the path of a missing run or checkpoint', async () => {
    const missing = join(tmp, 'nope');
    let r = await repae('sample', '--run', missing, '--backend', backend);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`repae sample: ${missing}: no such run or checkpoint directory`);
    const empty = mkdtempSync(join(tmp, 'empty-'));
    r = await repae('sample', '--run', empty, '--backend', backend);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`no complete checkpoint in ${join(empty, 'checkpoints')}`);
    r = await repae('sample', '--sit', join(tmp, 'missing.safetensors'), '--vae', join(tmp, 'vae.safetensors'), '--config', join(run, 'checkpoints', '0000100', 'state.json'), '--backend', backend);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(tmp, 'missing.safetensors')}: no such SiT file`);
  });
});
