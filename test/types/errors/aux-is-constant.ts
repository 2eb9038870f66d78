// Aux outputs leave the tape as constants; they cannot be treated as live VAE tensors... and a loss
// over 'sit' cannot differentiate the 'vae' group even through a combined sum.
import { alignToy, diffusionToy, toy } from '../../helpers/toy.js';
const both = toy.sum([diffusionToy, 1], [alignToy, 1.5]);
export const ok = toy.valueAndGrad(both, 'sit|vae');
const frozenVae = toy.freeze(both, 'vae');
// expect-error: 'vae' is not a group of this loss (write the groups joined by '|', no spaces); allowed:": "sit"
export const bad = toy.valueAndGrad(frozenVae, 'vae');
