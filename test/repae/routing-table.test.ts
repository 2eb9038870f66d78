/** The routing table is the code: objectives sum the table's rows with the table's coefficients, and the report reads the same rows. */
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { read, scalar } from '../../src/core/ops/index.js';
import { dispose, numTensors, tidy } from '../../src/core/scope.js';
import { repaeRoutes, routeCoeff, shareForward, stepObjectives } from '../../src/repae/routing.js';
import { routingTableMarkdown } from '../../src/report/routing-table.js';
import { decodeRunConfig } from '../../src/train/config.js';
import { runCoefficients, setupRun } from '../../src/train/run.js';

beforeAll(async () => {
  await useBackend('cpu');
});

const row = (md: string, description: string): string[] => {
  const line = md.split('\n').find((l) => l.startsWith(`| ${description} |`));
  if (line === undefined) throw new Error(`no row '${description}'`);
  return line.split('|').slice(1, -1).map((c) => c.trim());
};

it('the report shows each row of repaeRoutes with the coefficient the step uses', () => {
  const cfg = decodeRunConfig({ projCoeff: 0.7, vaeAlignProjCoeff: 2.5 });
  const md = routingTableMarkdown(cfg);
  const coeffs = setupRun(cfg, 8).step.objectives.coeffs;
  for (const k of Object.keys(repaeRoutes) as (keyof typeof repaeRoutes)[]) {
    const [, c, groups] = row(md, repaeRoutes[k].description);
    expect(c!.startsWith(String(routeCoeff(k, coeffs))), k).toBe(true);
    expect(groups).toBe(repaeRoutes[k].mayDifferentiate.split('|').map((g) => `\`${g}\``).join(', '));
  }
  expect(row(md, repaeRoutes.repaSit.description)[1]).toBe('0.7');
  expect(row(md, repaeRoutes.repaVae.description)[1]).toBe('2.5');
});

it('vanilla: REPA coefficients 0; ldm: the VAE and discriminator rows are not run', () => {
  const vanilla = decodeRunConfig({ mode: 'vanilla', projCoeff: 0.7 });
  expect(runCoefficients(vanilla)).toEqual({ projCoeff: 0, vaeAlignProjCoeff: 0 });
  expect(setupRun(vanilla, 8).step.objectives.coeffs).toEqual(runCoefficients(vanilla));
  const md = routingTableMarkdown(vanilla);
  expect(row(md, repaeRoutes.repaSit.description)[1]).toBe('0');
  expect(row(md, repaeRoutes.repaVae.description)[1]).toBe('— (VAE frozen)');
  expect(row(md, repaeRoutes.discriminator.description)[1]).toBe('—');
  expect(stepObjectives.ldm).toEqual(['sit']);
});

it('shareForward: Σ coeff·term over rows of one objective, a coefficient 1 unscaled; a row of another objective is refused', async () => {
  const before = numTensors();
  const f = { a: scalar(3), b: scalar(2) };
  const coeffs = { projCoeff: 0.5, vaeAlignProjCoeff: 1.5 };
  let calls = 0;
  // Used inside an objective (a valueAndGrad scope disposes the scaled term); here a tidy does.
  const loss = tidy(() => shareForward('sit', coeffs, f, [['diffusion', (x) => { calls++; return x.a; }], ['repaSit', (x) => x.b]]));
  expect([...(await read(loss))]).toEqual([3 + 0.5 * 2]);
  expect(calls).toBe(1);
  const one = shareForward('disc', coeffs, f, [['discriminator', (x) => x.a]]);
  expect(one).toBe(f.a); // coefficient 1: the term itself, no multiply
  expect(() => shareForward('sit', coeffs, f, [['repaVae', (x) => x.a]])).toThrow(/row 'repaVae' belongs to the 'vae' objective, not 'sit'/);
  dispose([loss, f]);
  expect(numTensors()).toBe(before);
});
