/** The experiment's verdict says, from the numbers alone, whether each of the paper's claims holds. */
import { expect, it } from 'vitest';
import { verdict } from '../../src/cli/cmd-experiment.js';
import type { RunEvaluation } from '../../src/train/evaluate.js';

const ev = (fd: number, spatialVariance = 0.8, totalVariation = 1.2): RunEvaluation => ({
  spatialVariance, totalVariation, psnr: 20, ssim: 0.5, cknna: 0.2, fd, samplesPng: new Uint8Array(), reconPng: new Uint8Array(), pcaPng: new Uint8Array(),
});
const run = (fds: number[], final: RunEvaluation) => ({ points: fds.map((fd, i) => ({ step: 100 * i, ev: ev(fd) })), final });

it('agreement and disagreement follow the numbers; settling is judged from the last evaluation points', () => {
  const agreeing = verdict({ 'repa-frozen-vae': run([90, 60, 55, 54], ev(50)), 'repa-e': run([90, 50, 45, 44], ev(40)), 'naive-e2e': run([90, 80, 70, 50], ev(70, 0.5, 0.9)) });
  expect(agreeing[0]).toMatch(/REPA-E reaches a Fréchet distance of 40\.00 against 50\.00 .* \*\*agrees\*\*/);
  expect(agreeing[1]).toMatch(/show that \(TV lower\).*70\.00 against REPA-E's 40\.00: this \*\*agrees\*\*/);
  expect(agreeing[2]).toMatch(/REPA, frozen VAE: .*2 % \(settling\); REPA-E: .*\(settling\); naive E2E: .*29 % \(still moving\)/);
  const not = verdict({ 'repa-frozen-vae': run([1, 2], ev(30)), 'repa-e': run([1, 2], ev(40)), 'naive-e2e': run([1, 2], ev(20, 0.9, 1.5)) });
  expect(not[0]).toMatch(/\*\*does not agree\*\*/);
  expect(not[1]).toMatch(/do not show it \(TV not lower\).*\*\*does not agree\*\*/);
  expect(not[2]).toMatch(/too few evaluation points/);
  expect(verdict({})).toEqual(['(a variant is missing)']);
});
