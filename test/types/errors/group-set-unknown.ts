// Every part of a group set must be a group allowed at that place: a trainable group of the registry
// for `loss`, a group of the loss for `freeze` and `valueAndGrad`. No spaces, no empty part.
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, diffusionToy, toy } from '../../helpers/toy.js';
// expect-error: 'nope' is not a trainable group of this registry (write the groups joined by '|', no spaces); allowed:": "vae" | "sit"
export const unknown = toy.loss('d', 'sit|nope', (v, x: T<never>) => [mean(x), {}] as const);
// expect-error: 'sit ' is not a trainable group of this registry
export const spaces = toy.loss('d', 'sit | vae', (v, x: T<never>) => [mean(x), {}] as const);
// expect-error: '' is not a trainable group of this registry
export const trailingBar = toy.loss('d', 'sit|', (v, x: T<never>) => [mean(x), {}] as const);
// expect-error: 'vae' is not a group of this loss (write the groups joined by '|', no spaces); allowed:": "sit"
export const notOfLoss = toy.valueAndGrad(diffusionToy, 'vae');
// expect-error: 'SIT' is not a group of this loss
export const caseMatters = toy.freeze(alignToy, 'SIT');
