// Assorted laundering attempts that the types stop: helpers, generics, satisfies, index signatures,
// spread, a hand-built Loss, and a mutable array of tracked tensors assigned the wrong way.
import { mean, type Loss, type Scalar, type Store, type T, type View } from '../../../src/core/index.js';
import { sitToy, type Toy, type ToyBatch } from '../../helpers/toy.js';
declare const liveZ: T<'vae'>;
declare const store: Store<Toy>;
// expect-error: Type 'T<G>' is not assignable to type 'T<never>'
export const launder = <G extends string>(x: T<G>): T<never> => x;
declare const view: View<Toy, 'sit'>;
// expect-error: Type 'T<"vae" | "sit">' is not assignable to type 'Scalar<"sit">'
export const viaSatisfies = [mean(sitToy(view.sit, liveZ)), {}] as const satisfies readonly [Scalar<'sit'>, {}];
// expect-error: Type 'T<"vae">' is not assignable to type 'T<never>'
export const bag: Record<string, T<never>> = { z: liveZ };
// expect-error: Type 'T<"vae">' is not assignable to type 'T<never>'
export const spread: Store<Toy> = { ...store, vae: { w: liveZ } };
export const handBuilt: Loss<Toy, 'sit', ToyBatch> = {
  name: 'forged',
  wrt: ['sit'],
  // expect-error: Type 'T<"vae" | "sit">' is not assignable to type 'Scalar<"sit">'
  run: (v, b) => [mean(sitToy(v.sit, liveZ)), {}] as const,
};
declare const held: T<'vae'>[];
// expect-error: Type 'T<"vae">[]' is not assignable to type 'T<never>[]'
export const narrowed: T<never>[] = held;
// Method syntax is bivariant (that hole is stopped at run time, test/core/forgery.test.ts), but the
// core's function-typed members use property syntax, so they are checked strictly (shown on run).
declare const wantsLive: (view: View<Toy, 'sit'>, batch: ToyBatch) => readonly [Scalar<'vae'>, {}];
// expect-error: Type 'Scalar<"vae">' is not assignable to type 'Scalar<"sit">'
export const run: Loss<Toy, 'sit', ToyBatch>['run'] = wantsLive;
