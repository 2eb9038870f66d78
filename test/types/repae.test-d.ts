import { describe, expectTypeOf, it } from 'vitest';
import type { Constants, Loss, T, Trainable } from '../../src/core/index.js';
import type { RepaeFamilies } from '../../src/repae/registry.js';
import { discObjective, repaeRoutes, sitObjective, UNSAFE_naiveEndToEndVaeObjective, vaeObjective, type DiscBatch, type SitBatch, type VaeBatch } from '../../src/repae/routing.js';
import type { GradientTransformation } from '../../src/optim/optim.js';
import type { REPAE_LABELS, repaeOptimizer, RepaeOptState, RepaeParams } from '../../src/repae/step.js';

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
  it('the optimizer is one partition over every trainable group, with typed state', () => {
    expectTypeOf<keyof typeof REPAE_LABELS>().toEqualTypeOf<'sit' | 'proj' | 'vae' | 'disc'>();
    expectTypeOf<keyof RepaeParams>().toEqualTypeOf<Trainable<RepaeFamilies>>();
    expectTypeOf<ReturnType<typeof repaeOptimizer>>().toEqualTypeOf<GradientTransformation<RepaeParams, RepaeOptState>>();
    expectTypeOf<RepaeOptState['sitProj'][2]['proj']>().not.toBeUnknown();
  });
});
