import { describe, expectTypeOf, it } from 'vitest';
import type { Constants, Loss, T, Trainable } from '../../src/core/index.js';
import type { RepaeFamilies } from '../../src/repae/registry.js';
import { discObjective, repaeRoutes, sitObjective, UNSAFE_naiveEndToEndVaeObjective, vaeObjective, type DiscBatch, type SitBatch, type VaeBatch } from '../../src/repae/routing.js';
import type { Optimizers } from '../../src/optim/optim.js';

describe('REPA-E routing types', () => {
  it('the routing table as types', () => {
    expectTypeOf(repaeRoutes.diffusion.mayDifferentiate).toEqualTypeOf<'sit'>();
    expectTypeOf(repaeRoutes.repaSit.mayDifferentiate).toEqualTypeOf<'sit|proj'>();
    expectTypeOf(repaeRoutes.repaVae.mayDifferentiate).toEqualTypeOf<'vae'>();
    expectTypeOf(repaeRoutes.regularizer.mayDifferentiate).toEqualTypeOf<'vae'>();
    expectTypeOf(repaeRoutes.discriminator.mayDifferentiate).toEqualTypeOf<'disc'>();
    expectTypeOf<Trainable<RepaeFamilies>>().toEqualTypeOf<'sit' | 'proj' | 'vae' | 'disc'>();
  });
  it('each objective differentiates exactly its row', () => {
    expectTypeOf(sitObjective).toMatchTypeOf<Loss<RepaeFamilies, 'sit' | 'proj', SitBatch, unknown>>();
    expectTypeOf(vaeObjective).toMatchTypeOf<Loss<RepaeFamilies, 'vae', VaeBatch, unknown>>();
    expectTypeOf(discObjective).toMatchTypeOf<Loss<RepaeFamilies, 'disc', DiscBatch, unknown>>();
    expectTypeOf(UNSAFE_naiveEndToEndVaeObjective).toMatchTypeOf<Loss<RepaeFamilies, 'vae', VaeBatch, unknown>>();
  });
  it('the SiT trains on stop-gradient latents: the VAE aux leaves the tape as constants', () => {
    expectTypeOf<SitBatch['z']>().toEqualTypeOf<T<never>>();
    type VaeAux = typeof vaeObjective extends Loss<RepaeFamilies, 'vae', VaeBatch, infer A> ? A : never;
    expectTypeOf<Constants<VaeAux>['z']>().toEqualTypeOf<T<never>>();
    expectTypeOf<VaeAux['z']>().toEqualTypeOf<T<'vae'>>();
  });
  it('the optimizer table must cover every trainable group', () => {
    expectTypeOf<keyof Optimizers<RepaeFamilies>>().toEqualTypeOf<'sit' | 'proj' | 'vae' | 'disc'>();
  });
});
