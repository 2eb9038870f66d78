// A union-typed argument is refused (not over-approximated): its value may be any member, and no
// single group set is safe for every transform (a union in `freeze` would remove groups from the
// type that the value may not freeze).
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, toy } from '../../helpers/toy.js';
declare const either: 'sit' | 'sit|vae';
// expect-error: a group set must be one string literal, not a union
export const l = toy.loss('d', either, (v, x: T<never>) => [mean(x), {}] as const);
declare const flag: boolean;
// expect-error: a group set must be one string literal, not a union
export const f = toy.freeze(alignToy, flag ? 'sit' : 'vae');
// expect-error: a group set must be one string literal, not a union
export const g = toy.valueAndGrad(alignToy, either);
