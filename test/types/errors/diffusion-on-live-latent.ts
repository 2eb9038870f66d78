// The diffusion loss itself refuses a live latent, wherever it is written: in a loss over 'sit',
// over 'vae', or a joint one. Only the UNSAFE capability opens it (the naive ablation).
import { mean, type T } from '../../../src/core/index.js';
import { sitLosses, UNSAFE_LIVE_LATENT_DIFFUSION } from '../../../src/losses/diffusion.js';
import { vaeForward } from '../../../src/models/vae/index.js';
import { repae } from '../../../src/repae/registry.js';
import type { SitBatch, VaeBatch } from '../../../src/repae/routing.js';
declare const liveZ: T<'vae'>;
export const overSit = repae.loss('d', 'sit|proj', (v, b: SitBatch) => {
  // expect-error: Property 'unsafeLiveLatent' is missing
  const r = sitLosses({ sit: v.sit, proj: v.proj, bn: b.bn }, { x: liveZ, y: b.y, zs: b.zs }, { cfg: b.ctx.sit, mode: 'train' });
  return [mean(r.projLoss), {}] as const;
});
export const overVae = repae.loss('d', 'vae', (v, b: VaeBatch) => {
  const { z } = vaeForward(v.vae, b.x, b.posterior);
  // expect-error: Property 'unsafeLiveLatent' is missing
  const r = sitLosses({ sit: v.sit, proj: v.proj, bn: b.bn }, { x: z, y: b.y, zs: b.zs }, { cfg: b.ctx.sit, mode: 'eval' });
  return [mean(r.projLoss), {}] as const;
});
export const joint = repae.loss('d', 'sit|proj|vae', (v, b: VaeBatch) => {
  const { z } = vaeForward(v.vae, b.x, b.posterior);
  // expect-error: Property 'unsafeLiveLatent' is missing
  const r = sitLosses({ sit: v.sit, proj: v.proj, bn: b.bn }, { x: z, y: b.y, zs: b.zs }, { cfg: b.ctx.sit, mode: 'train' });
  return [mean(r.projLoss), {}] as const;
});
// The same joint loss compiles only with the UNSAFE capability named explicitly.
export const naive = repae.loss('d', 'sit|proj|vae', (v, b: VaeBatch) => {
  const { z } = vaeForward(v.vae, b.x, b.posterior);
  const r = sitLosses({ sit: v.sit, proj: v.proj, bn: b.bn }, { x: z, y: b.y, zs: b.zs }, { cfg: b.ctx.sit, mode: 'train', unsafeLiveLatent: UNSAFE_LIVE_LATENT_DIFFUSION });
  return [mean(r.projLoss), {}] as const;
});
// expect-error: Property '[unsafeBrand]' is missing
export const forged = sitLosses({} as never, { x: liveZ, y: liveZ as T<never>, zs: [] }, { cfg: {} as never, mode: 'eval', unsafeLiveLatent: { description: 'x' } });
