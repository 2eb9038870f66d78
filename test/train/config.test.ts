import { expect, it } from 'vitest';
import { ConfigError, configFromFlags, decodeRunConfig, defaultRunConfig, fieldToFlag, flagToField } from '../../src/train/config.js';

it('defaults decode and carry the official coefficients', () => {
  const c = decodeRunConfig({});
  expect(c).toEqual(defaultRunConfig);
  expect([c.projCoeff, c.vaeAlignProjCoeff, c.maxGradNorm, c.emaDecay, c.learningRate]).toEqual([0.5, 1.5, 1, 0.9999, 1e-4]);
});
it('bad values name the field and the value', () => {
  expect(() => decodeRunConfig({ batchSize: -3 })).toThrow(/batchSize: expected PositiveInteger, got -3/);
  expect(() => decodeRunConfig({ pathType: 'edm' })).toThrow(/pathType/);
  expect(() => decodeRunConfig({ batchsize: 3 })).toThrow(/unknown field\(s\) batchsize/);
});
it('flags use the official kebab-case names', () => {
  expect(flagToField('--vae-align-proj-coeff')).toBe('vaeAlignProjCoeff');
  expect(fieldToFlag('vaeAlignProjCoeff')).toBe('--vae-align-proj-coeff');
  const c = configFromFlags(new Map<string, string | true>([['batch-size', '8'], ['qk-norm', true], ['vae-ch-mult', '1,2'], ['mode', 'ldm']]));
  expect([c.batchSize, c.qkNorm, c.vaeChMult, c.mode]).toEqual([8, true, [1, 2], 'ldm']);
  expect(() => configFromFlags(new Map([['batch-size', 'many']]))).toThrow(/--batch-size: expected PositiveInteger/);
  expect(() => configFromFlags(new Map([['bach-size', '8']]))).toThrow(ConfigError);
  expect(() => configFromFlags(new Map([['bach-size', '8']]))).toThrow(/--bach-size/);
});
