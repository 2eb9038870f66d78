// Group lists must be readonly (inline or `as const`): a mutable array could be widened and pushed
// through an alias, so its value would name more groups than its type.
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, toy } from '../../helpers/toy.js';
const s: 'sit'[] = ['sit'];
const w: ('sit' | 'vae')[] = s;
w.push('vae');
// expect-error: group lists must be readonly
export const l = toy.loss('d', s, (v, x: T<never>) => [mean(x), {}] as const);
const m: ['sit'] = ['sit'];
// expect-error: group lists must be readonly
export const l2 = toy.loss('d', m, (v, x: T<never>) => [mean(x), {}] as const);
const ks: ['vae'] = ['vae'];
const alias: string[] = ks;
alias.length = 0;
// expect-error: group lists must be readonly
export const f = toy.freeze(alignToy, ks);
// expect-error: group lists must be readonly
export const g = toy.valueAndGrad(alignToy, m);
const ro = ['sit'] as const;
// expect-error: cannot be assigned to the mutable type
export const widened: ('sit' | 'vae')[] = ro;
