import { describe, expectTypeOf, it } from 'vitest';
import type { Constants, Grads, Loss, Scalar, Store, T, Trainable, View, Frozen } from '../../src/core/index.js';
import { stopGradient, add } from '../../src/core/index.js';
import { alignToy, diffusionToy, regToy, toy, type Toy, type ToyBatch, type ToySit, type ToyVae } from '../helpers/toy.js';

describe('routing types', () => {
  it('losses carry their groups', () => {
    expectTypeOf(diffusionToy).toEqualTypeOf<Loss<Toy, 'sit', ToyBatch, {}>>();
    expectTypeOf(alignToy).toEqualTypeOf<Loss<Toy, 'sit' | 'vae', ToyBatch, { readonly z: T<'vae'> }>>();
    expectTypeOf(toy.sum([diffusionToy, 1], [regToy, 1])).toEqualTypeOf<Loss<Toy, 'sit' | 'vae', ToyBatch, {}>>();
    expectTypeOf(toy.freeze(alignToy, ['sit'])).toEqualTypeOf<Loss<Toy, 'vae', ToyBatch, { readonly z: T<'vae'> }>>();
  });
  it('the registry splits trainable and frozen groups', () => {
    expectTypeOf<Trainable<Toy>>().toEqualTypeOf<'vae' | 'sit'>();
    expectTypeOf<Frozen<Toy>>().toEqualTypeOf<'enc'>();
  });
  it('views are live exactly on the declared groups', () => {
    expectTypeOf<View<Toy, 'sit'>['sit']>().toEqualTypeOf<ToySit<'sit'>>();
    expectTypeOf<View<Toy, 'sit'>['vae']>().toEqualTypeOf<ToyVae<never>>();
    expectTypeOf<Store<Toy>['vae']>().toEqualTypeOf<ToyVae<never>>();
  });
  it('valueAndGrad returns grads for wrt only and aux as constants', () => {
    const f = toy.valueAndGrad(alignToy, ['vae']);
    expectTypeOf(f).returns.toEqualTypeOf<readonly [Scalar, Grads<Toy, 'vae'>, Constants<{ readonly z: T<'vae'> }>]>();
    expectTypeOf<Constants<{ readonly z: T<'vae'> }>>().toEqualTypeOf<{ readonly z: T<never> }>();
  });
  it('ops take the union, stopGradient discharges', () => {
    expectTypeOf(add({} as T<'a'>, {} as T<'b'>)).toEqualTypeOf<T<'a' | 'b'>>();
    expectTypeOf(add({} as T<'a'>, 2)).toEqualTypeOf<T<'a'>>();
    expectTypeOf(stopGradient({} as T<'a'>)).toEqualTypeOf<T<never>>();
    expectTypeOf<T<never>>().toMatchTypeOf<T<'sit'>>();
    expectTypeOf<T<'vae'>>().not.toMatchTypeOf<T<never>>();
  });
});
