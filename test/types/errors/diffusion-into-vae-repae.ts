// The official SiT objective cannot be differentiated w.r.t. the VAE.
import { sitObjective } from '../../../src/repae/routing.js';
import { repae } from '../../../src/repae/registry.js';
// expect-error: Type '"vae"' is not assignable to type '"sit" | "proj"'
export const g = repae.valueAndGrad(sitObjective, ['vae']);
