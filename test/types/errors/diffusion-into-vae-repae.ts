// The official SiT objective cannot be differentiated w.r.t. the VAE.
import { sitObjective } from '../../../src/repae/routing.js';
import { repae } from '../../../src/repae/registry.js';
// expect-error: 'vae' is not a group of this loss (write the groups joined by '|', no spaces); allowed:": "sit" | "proj"
export const g = repae.valueAndGrad(sitObjective, 'vae');
