/** @file Renders the routing table in force for a run (from the typed table in src/repae/routing.ts). */
import { repaeRoutes } from '../repae/routing.js';
import type { RunConfig } from '../train/config.js';

/** The markdown routing table of a run: objective, coefficient in force, groups it may differentiate. @category io */
export function routingTableMarkdown(cfg: RunConfig): string {
  const coeff: Record<keyof typeof repaeRoutes, string> = {
    diffusion: '1',
    repaSit: String(cfg.mode === 'vanilla' ? 0 : cfg.projCoeff),
    repaVae: cfg.mode === 'repae-e' || cfg.mode === 'naive-e2e' ? String(cfg.vaeAlignProjCoeff) : '— (VAE frozen)',
    regularizer: cfg.mode === 'repae-e' || cfg.mode === 'naive-e2e' ? `1 (L1 + ${cfg.perceptualWeight}·LPIPS + ${cfg.klWeight}·KL + ${cfg.discWeight}·GAN)` : '— (VAE frozen)',
    discriminator: cfg.mode === 'repae-e' || cfg.mode === 'naive-e2e' ? '1' : '—',
  };
  const rows = (Object.keys(repaeRoutes) as (keyof typeof repaeRoutes)[]).map((k) => {
    const r = repaeRoutes[k];
    const groups = k === 'diffusion' && cfg.mode === 'naive-e2e' ? "`sit`, **`vae` (UNSAFE escape hatch)**" : r.mayDifferentiate.split('|').map((g) => `\`${g}\``).join(', ');
    return `| ${r.description} | ${coeff[k]} | ${groups} |`;
  });
  return ['| objective | coefficient in force | may differentiate |', '|---|---|---|', ...rows].join('\n');
}
