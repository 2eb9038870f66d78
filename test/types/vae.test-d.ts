import { describe, expectTypeOf, it } from 'vitest';
import type { Scalar, T } from '../../src/core/tensor.js';
import type { DiscriminatorParams, DiscriminatorState } from '../../src/models/discriminator.js';
import { discriminator } from '../../src/models/discriminator.js';
import type { LpipsParams } from '../../src/models/lpips.js';
import { lpips } from '../../src/models/lpips.js';
import { vaeForward, vaeDecode, type Posterior, type VaeParams } from '../../src/models/vae/index.js';
import { vaeGeneratorLoss } from '../../src/losses/vae.js';
import { vaeDiscriminatorLoss } from '../../src/losses/disc.js';

declare const vae: VaeParams<'vae'>;
declare const disc: DiscriminatorParams<'disc'>;
declare const discFrozen: DiscriminatorParams<never>;
declare const lp: LpipsParams<never>;
declare const s: DiscriminatorState;
declare const x: T<never>;

describe('VAE / loss group flow', () => {
  it('the VAE forward carries the VAE group (and the noise group)', () => {
    const r = vaeForward(vae, x, { key: [1, 2] });
    expectTypeOf(r.z).toEqualTypeOf<T<'vae'>>();
    expectTypeOf(r.xHat).toEqualTypeOf<T<'vae'>>();
    expectTypeOf(r.posterior).toEqualTypeOf<Posterior<'vae'>>();
    expectTypeOf(vaeForward(vae, x, { eps: {} as T<'eps'> }).z).toEqualTypeOf<T<'vae' | 'eps'>>();
    expectTypeOf(vaeDecode(vae, {} as T<'sit'>)).toEqualTypeOf<T<'vae' | 'sit'>>();
  });
  it('frozen LPIPS and a detached discriminator add no group to the generator loss', () => {
    const r = vaeForward(vae, x, { key: [1, 2] });
    const g = vaeGeneratorLoss({ lpips: lp, disc: discFrozen, discState: s }, x, r.xHat, r.posterior, 0);
    expectTypeOf(g.loss).toEqualTypeOf<Scalar<'vae'>>();
    expectTypeOf(g.dict.totalLoss).toEqualTypeOf<T<never>>();
    expectTypeOf(lpips(lp, x, r.xHat)).toEqualTypeOf<T<'vae'>>();
    expectTypeOf(vaeGeneratorLoss({ lpips: lp, disc, discState: s }, x, r.xHat, r.posterior, 0).loss).toEqualTypeOf<Scalar<'vae' | 'disc'>>();
  });
  it('the discriminator loss detaches the images: it depends on the discriminator only', () => {
    const r = vaeForward(vae, x, { key: [1, 2] });
    expectTypeOf(vaeDiscriminatorLoss(disc, s, x, r.xHat, 0).loss).toEqualTypeOf<Scalar<'disc'>>();
    expectTypeOf(discriminator(disc, s, r.xHat)[0]).toEqualTypeOf<T<'disc' | 'vae'>>();
  });
});
