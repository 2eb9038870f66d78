// A generic helper cannot forward an unchecked group set (its type parameter could be instantiated
// with any string), and a group set typed `never` (assignable to every parameter: here an element
// of an empty array literal, filled through a `string[]` alias) yields no usable loss.
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, regToy, toy } from '../../helpers/toy.js';
export function lossOver<G extends 'sit' | 'vae'>(g: G) {
  // expect-error: Argument of type 'G' is not assignable to parameter of type 'G & GroupSet<G,
  return toy.loss('x', g, (v, x: T<never>) => [mean(x), {}] as const);
}
export function freezeOf<G extends string>(g: G) {
  // expect-error: Argument of type 'G' is not assignable to parameter of type 'G & GroupSet<G,
  return toy.freeze(alignToy, g);
}
const o = { a: [] };
const w: string[] = o.a;
w.push('sit|vae');
export const typedNever = toy.loss('x', o.a[0]!, (v, x: T<never>) => [mean(x), {}] as const);
// expect-error: Type 'GroupSetTypedNever' is missing the following properties from type 'Loss<
export const inSum = toy.sum([typedNever, 1], [regToy, 1]);
// expect-error: Argument of type 'GroupSetTypedNever' is not assignable to parameter of type 'Loss<
export const differentiated = toy.valueAndGrad(typedNever, 'sit');
// expect-error: Property 'wrt' does not exist on type 'GroupSetTypedNever'
export const frozen = toy.freeze(alignToy, o.a[0]!).wrt;
