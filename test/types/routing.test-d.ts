import { describe, expectTypeOf, it } from 'vitest';
import type { Constants, Grads, GroupSet, GroupSetProblem, GroupSetTypedNever, Loss, ParseGroups, Scalar, SplitGroups, Store, T, Trainable, View, Frozen } from '../../src/core/index.js';
import { mean } from '../../src/core/index.js';
import { stopGradient, add } from '../../src/core/index.js';
import { alignToy, diffusionToy, regToy, toy, type Toy, type ToyBatch, type ToySit, type ToyVae } from '../helpers/toy.js';

describe('routing types', () => {
  it('losses carry their groups', () => {
    expectTypeOf(diffusionToy).toEqualTypeOf<Loss<Toy, 'sit', ToyBatch, {}>>();
    expectTypeOf(alignToy).toEqualTypeOf<Loss<Toy, 'sit' | 'vae', ToyBatch, { readonly z: T<'vae'> }>>();
    expectTypeOf(toy.sum([diffusionToy, 1], [regToy, 1])).toEqualTypeOf<Loss<Toy, 'sit' | 'vae', ToyBatch, {}>>();
    expectTypeOf(toy.freeze(alignToy, 'sit')).toEqualTypeOf<Loss<Toy, 'vae', ToyBatch, { readonly z: T<'vae'> }>>();
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
    const f = toy.valueAndGrad(alignToy, 'vae');
    expectTypeOf(f).returns.toEqualTypeOf<readonly [Scalar, Grads<Toy, 'vae'>, Constants<{ readonly z: T<'vae'> }>]>();
    expectTypeOf<Constants<{ readonly z: T<'vae'> }>>().toEqualTypeOf<{ readonly z: T<never> }>();
  });
  it('group sets: parsed from one string literal, order-insensitive', () => {
    expectTypeOf<ParseGroups<'sit|proj'>>().toEqualTypeOf<'sit' | 'proj'>();
    expectTypeOf<ParseGroups<'proj|sit'>>().toEqualTypeOf<ParseGroups<'sit|proj'>>();
    expectTypeOf<ParseGroups<'sit'>>().toEqualTypeOf<'sit'>();
    expectTypeOf<ParseGroups<''>>().toEqualTypeOf<never>();
    expectTypeOf<SplitGroups<'a|b|c'>>().toEqualTypeOf<['a', 'b', 'c']>();
    expectTypeOf<GroupSet<'sit|vae', Trainable<Toy>>>().toEqualTypeOf<unknown>();
    expectTypeOf<GroupSetProblem<'vae|sit', Trainable<Toy>>>().toEqualTypeOf<never>();
    expectTypeOf<GroupSetProblem<string, Trainable<Toy>>>().toEqualTypeOf<"group sets must be string literals, like 'sit|proj'">();
    expectTypeOf<GroupSetProblem<'sit' | 'vae', Trainable<Toy>>>().toEqualTypeOf<'a group set must be one string literal, not a union'>();
    expectTypeOf<GroupSetProblem<'', Trainable<Toy>>>().toEqualTypeOf<'a group set cannot be empty'>();
    expectTypeOf<GroupSetProblem<'', Trainable<Toy>, never, true>>().toEqualTypeOf<never>();
    expectTypeOf<GroupSetProblem<'sit|vae|sit', Trainable<Toy>>>().toEqualTypeOf<"group 'sit' appears twice in the group set">();
    expectTypeOf<GroupSetProblem<'sit|enc', Trainable<Toy>, Frozen<Toy>>>().toEqualTypeOf<"group 'enc' is frozen: it is read, never trained">();
    expectTypeOf<GroupSetProblem<'sit|x', Trainable<Toy>>>().toEqualTypeOf<"'x' is not a group allowed here (write the groups joined by '|', no spaces)">();
    expectTypeOf<GroupSetProblem<`sit|${string}`, Trainable<Toy>>>().toEqualTypeOf<"group sets must be string literals, like 'sit|proj'">();
    const a = toy.loss('a', 'vae|sit', (v, b: ToyBatch) => [mean(b.x), {}] as const);
    const b = toy.loss('b', 'sit|vae', (v, b: ToyBatch) => [mean(b.x), {}] as const);
    expectTypeOf(a).toEqualTypeOf<Loss<Toy, 'sit' | 'vae', ToyBatch, {}>>();
    expectTypeOf(a).toEqualTypeOf(b);
    expectTypeOf(toy.freeze(alignToy, 'vae|sit')).toEqualTypeOf<Loss<Toy, never, ToyBatch, { readonly z: T<'vae'> }>>();
    expectTypeOf(toy.valueAndGrad(alignToy, 'vae|sit')).returns.toEqualTypeOf<readonly [Scalar, Grads<Toy, 'sit' | 'vae'>, Constants<{ readonly z: T<'vae'> }>]>();
    expectTypeOf(toy.view({} as Store<Toy>, 'enc|sit')).toEqualTypeOf<View<Toy, 'enc' | 'sit'>>();
    expectTypeOf(toy.view({} as Store<Toy>, '')).toEqualTypeOf<View<Toy, never>>();
    expectTypeOf(toy.loss('n', {} as never, (v, b: ToyBatch) => [mean(b.x), {}] as const)).toEqualTypeOf<GroupSetTypedNever>();
    expectTypeOf(toy.freeze(alignToy, {} as never)).toEqualTypeOf<GroupSetTypedNever>();
  });
  it('ops take the union, stopGradient discharges', () => {
    expectTypeOf(add({} as T<'a'>, {} as T<'b'>)).toEqualTypeOf<T<'a' | 'b'>>();
    expectTypeOf(add({} as T<'a'>, 2)).toEqualTypeOf<T<'a'>>();
    expectTypeOf(stopGradient({} as T<'a'>)).toEqualTypeOf<T<never>>();
    expectTypeOf<T<never>>().toMatchTypeOf<T<'sit'>>();
    expectTypeOf<T<'vae'>>().not.toMatchTypeOf<T<never>>();
  });
});
