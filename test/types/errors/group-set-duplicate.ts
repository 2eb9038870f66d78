// A group may appear once in a group set.
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, toy } from '../../helpers/toy.js';
// expect-error: group 'sit' appears twice in the group set
export const l = toy.loss('d', 'sit|sit', (v, x: T<never>) => [mean(x), {}] as const);
// expect-error: group 'vae' appears twice in the group set
export const g = toy.valueAndGrad(alignToy, 'vae|sit|vae');
