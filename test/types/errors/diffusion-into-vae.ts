// Routing the diffusion objective into the VAE.
import { diffusionToy, toy } from '../../helpers/toy.js';
// expect-error: Type '"vae"' is not assignable to type '"sit"'
export const g = toy.valueAndGrad(diffusionToy, ['vae']);
