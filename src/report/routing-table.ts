/** @file Renders the routing table in force for a run: the rows of src/repae/routing.ts, their coefficients from the run's config. */
import { repaeRoutes, routeCoeff, stepObjectives, type RouteName } from '../repae/routing.js';
import type { RunConfig } from '../train/config.js';
import { runCoefficients, runStepMode } from '../train/run.js';

/**
 * The markdown routing table of a run: each row of `repaeRoutes` with the coefficient in force
 * (`routeCoeff` under the run's coefficients, or — when the run's step mode does not run the row's
 * objective) and the groups it may differentiate.
 * @category io
 */
export function routingTableMarkdown(cfg: RunConfig): string {
  const mode = runStepMode(cfg), coeffs = runCoefficients(cfg);
  const runs: readonly string[] = stepObjectives[mode];
  const rows = (Object.keys(repaeRoutes) as RouteName[]).map((k) => {
    const r = repaeRoutes[k];
    const off = r.objective === 'vae' ? '— (VAE frozen)' : '—';
    const c = String(routeCoeff(k, coeffs));
    const coeff = !runs.includes(r.objective) ? off : k === 'regularizer' ? `${c} (L1 + ${cfg.perceptualWeight}·LPIPS + ${cfg.klWeight}·KL + ${cfg.discWeight}·GAN)` : c;
    const groups = k === 'diffusion' && mode === 'naive-e2e' ? "`sit`, **`vae` (UNSAFE escape hatch)**" : r.mayDifferentiate.split('|').map((g) => `\`${g}\``).join(', ');
    return `| ${r.description} | ${coeff} | ${groups} |`;
  });
  return ['| objective | coefficient in force | may differentiate |', '|---|---|---|', ...rows].join('\n');
}
