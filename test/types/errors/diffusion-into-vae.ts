// Routing the diffusion objective into the VAE.
import { diffusionToy, toy } from '../../helpers/toy.js';
// expect-error: 'vae' is not a group of this loss (write the groups joined by '|', no spaces); allowed:": "sit"
export const g = toy.valueAndGrad(diffusionToy, 'vae');
