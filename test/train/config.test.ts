import { expect, it } from 'vitest';
import { backendNames } from '../../src/backends/index.js';
import { checkRunConfig, ConfigError, configChanges, configFromFlags, decodeRunConfig, defaultRunConfig, fieldToFlag, flagToField, runConfigProblems } from '../../src/train/config.js';

it('defaults decode and carry the official coefficients', () => {
  const c = decodeRunConfig({});
  expect(c).toEqual(defaultRunConfig);
  expect([c.projCoeff, c.vaeAlignProjCoeff, c.maxGradNorm, c.emaDecay, c.learningRate]).toEqual([0.5, 1.5, 1, 0.9999, 1e-4]);
});
it('bad values name the field and the value', () => {
  expect(() => decodeRunConfig({ batchSize: -3 })).toThrow(/batchSize: expected a positive integer, got -3/);
  expect(() => decodeRunConfig({ pathType: 'edm' })).toThrow(/pathType/);
  expect(() => decodeRunConfig({ batchsize: 3 })).toThrow(/unknown field\(s\) batchsize/);
});
it('--backend of a run accepts every backend name and auto, nothing else', () => {
  for (const b of ['auto', ...backendNames]) expect(configFromFlags(new Map([['backend', b]])).backend).toBe(b);
  expect(() => configFromFlags(new Map([['backend', 'torch:rocm']]))).toThrow(/backend/);
});
it('flags use the official kebab-case names', () => {
  expect(flagToField('--vae-align-proj-coeff')).toBe('vaeAlignProjCoeff');
  expect(fieldToFlag('vaeAlignProjCoeff')).toBe('--vae-align-proj-coeff');
  const c = configFromFlags(new Map<string, string | true>([['batch-size', '8'], ['qk-norm', true], ['vae-ch-mult', '1,2'], ['mode', 'ldm']]));
  expect([c.batchSize, c.qkNorm, c.vaeChMult, c.mode]).toEqual([8, true, [1, 2], 'ldm']);
  expect(() => configFromFlags(new Map([['batch-size', 'many']]))).toThrow(/--batch-size: expected a number, got 'many'/);
  expect(() => configFromFlags(new Map([['batch-size', '2.5']]))).toThrow(/--batch-size: expected a positive integer, got 2\.5/);
  expect(() => configFromFlags(new Map([['vae-ch-mult', '1,x,2']]))).toThrow(/--vae-ch-mult: item 2 of '1,x,2' is 'x', not a positive integer/);
  expect(() => decodeRunConfig({ vaeChMult: [1, 'x'] })).toThrow(/vaeChMult\[1\]: expected a positive integer, got "x"/);
  expect(() => configFromFlags(new Map([['bach-size', '8']]))).toThrow(ConfigError);
  expect(() => configFromFlags(new Map([['bach-size', '8']]))).toThrow(/--bach-size/);
});
it('cross-field rules name each flag and rule; the defaults and the demo-sized configs pass', () => {
  expect(runConfigProblems(defaultRunConfig)).toEqual([]);
  expect(runConfigProblems(decodeRunConfig({ resolution: 16, vaeChMult: [1, 2], patchSize: 4, sitHidden: 32, sitHeads: 2, encoderDepth: 1, discLayers: 1 }))).toEqual([]);
  const p = runConfigProblems(decodeRunConfig({ vaeCh: 48, vaeChMult: [1, 2, 3], resolution: 34, sitHeads: 3, encoderDepth: 5, discLayers: 6, cfgProb: 1 }));
  expect(p).toEqual([
    expect.stringMatching(/^--vae-ch 48 with --vae-ch-mult 1,2,3: level widths 48, 144 are not a multiple of 32/),
    expect.stringMatching(/^--resolution 34: not divisible by the VAE downsampling factor 4/),
    expect.stringMatching(/^--sit-heads 3: --sit-hidden 64 is not divisible/),
    expect.stringMatching(/^--encoder-depth 5: exceeds --sit-depth 4/),
    expect.stringMatching(/^--disc-layers 6: too many for --resolution 34/),
    expect.stringMatching(/^--cfg-prob 1: must be < 1/),
  ]);
  expect(() => checkRunConfig(decodeRunConfig({ patchSize: 3 }))).toThrow(/^flags: --patch-size 3: the latent side --resolution 32 \/ 4 = 8 is not divisible by it$/);
});
it('configChanges lists each differing field with its flag; cadence fields are marked', () => {
  const saved = { ...defaultRunConfig, learningRate: 1e-4, maxTrainSteps: 100 } as unknown as Record<string, unknown>;
  const now = decodeRunConfig({ learningRate: 0.01, mode: 'ldm', maxTrainSteps: 200 });
  expect(configChanges(saved, now).map((c) => [c.flag, c.saved, c.now, c.cadence])).toEqual([
    ['--mode', 'repae-e', 'ldm', false], ['--max-train-steps', 100, 200, true], ['--learning-rate', 1e-4, 0.01, false],
  ]);
  expect(configChanges(defaultRunConfig as unknown as Record<string, unknown>, defaultRunConfig)).toEqual([]);
});
