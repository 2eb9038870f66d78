// Group sets are string literals, not arrays: the old aliasing attacks no longer compile. A mutable
// tuple assigned to a readonly-typed variable, then widened and pushed through the mutable original,
// or a list emptied through a `string[]` alias, named other groups than its type; a string cannot be
// changed through an alias, and an array is not a group set at all.
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, toy } from '../../helpers/toy.js';
const m: ['sit'] = ['sit'];
const ro: readonly ['sit'] = m;
const wide: ('sit' | 'vae')[] = m;
wide.push('vae');
// expect-error: group sets must be string literals, like 'sit|proj'
export const viaReadonlyAlias = toy.loss('d', ro, (v, x: T<never>) => [mean(x), {}] as const);
const ks: ['vae'] = ['vae'];
const roKs: readonly ['vae'] = ks;
const alias: string[] = ks;
alias.length = 0;
// expect-error: group sets must be string literals, like 'sit|proj'
export const emptied = toy.freeze(alignToy, roKs);
// expect-error: group sets must be string literals, like 'sit|proj'
export const g = toy.valueAndGrad(alignToy, ['sit'] as const);
// expect-error: group sets must be string literals, like 'sit|proj'
export const v = toy.view({} as never, ro);
