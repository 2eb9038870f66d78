import { describe, expectTypeOf, it } from 'vitest';
import type { T } from '../../src/core/tensor.js';
import type { BatchNormState } from '../../src/nn/batch-norm.js';
import type { SitConfig } from '../../src/models/sit/config.js';
import { sitForward, sitInference } from '../../src/models/sit/forward.js';
import { sitLosses } from '../../src/losses/diffusion.js';
import type { Projectors, SitParams } from '../../src/models/sit/params.js';

declare const cfg: SitConfig;
declare const sit: SitParams<'sit'>;
declare const frozenSit: SitParams<never>;
declare const proj: Projectors<'proj'>;
declare const frozenProj: Projectors<never>;
declare const z: T<'vae'>;
declare const c: T<never>;
declare const bn: BatchNormState;

describe('SiT types: groups flow from params and inputs', () => {
  it('the velocity depends on the backbone and inputs, the projections also on the projectors', () => {
    const f = sitForward(sit, proj, c, c, c, { cfg });
    expectTypeOf(f.output).toEqualTypeOf<T<'sit'>>();
    expectTypeOf(f.zsTilde).toEqualTypeOf<readonly T<'sit' | 'proj'>[]>();
    expectTypeOf(sitInference(frozenSit, z, c, c, cfg)).toEqualTypeOf<T<'vae'>>();
  });
  it('the VAE alignment pass through a frozen SiT depends on the VAE only; eval mode returns no BN state', () => {
    const r = sitLosses({ sit: frozenSit, proj: frozenProj, bn }, { x: z, y: c, zs: [c] }, { cfg, mode: 'eval', alignOnly: true });
    expectTypeOf(r.projLoss).toEqualTypeOf<T<'vae'>>();
    // @ts-expect-error Property 'bn' does not exist
    void r.bn;
    const s = sitLosses({ sit, proj, bn }, { x: c, y: c, zs: [c] }, { cfg, mode: 'train' });
    expectTypeOf(s.bn).toEqualTypeOf<BatchNormState>();
    expectTypeOf(s.projLoss).toEqualTypeOf<T<'sit' | 'proj'>>();
  });
});
