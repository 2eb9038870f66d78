// A group set must be a string literal: a `string` (a `let`, a parameter, a join at run time) or a
// template pattern has no group set the type can read.
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, toy } from '../../helpers/toy.js';
let widened = 'sit';
widened = 'sit|vae';
// expect-error: group sets must be string literals, like 'sit|proj'; allowed:
export const viaLet = toy.loss('d', widened, (v, x: T<never>) => [mean(x), {}] as const);
declare const joined: string;
// expect-error: group sets must be string literals, like 'sit|proj'
export const viaJoin = toy.valueAndGrad(alignToy, joined);
declare const pattern: `sit|${string}`;
// expect-error: group sets must be string literals, like 'sit|proj'
export const viaPattern = toy.freeze(alignToy, pattern);
