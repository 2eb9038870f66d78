// The empty string is not a group set (a loss, freeze or gradient over nothing is a mistake).
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, toy } from '../../helpers/toy.js';
// expect-error: a group set cannot be empty; allowed:": "vae" | "sit"
export const l = toy.loss('d', '', (v, x: T<never>) => [mean(x), {}] as const);
// expect-error: a group set cannot be empty
export const f = toy.freeze(alignToy, '');
// expect-error: a group set cannot be empty
export const g = toy.valueAndGrad(alignToy, '');
