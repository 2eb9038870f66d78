// A partition (the optimizer table) whose labels forget a group its transformations train.
import { adamw, partition } from '../../../src/optim/optim.js';
import type { Store } from '../../../src/core/index.js';
import type { Toy } from '../../helpers/toy.js';
type SitVae = Pick<Store<Toy>, 'sit' | 'vae'>;
// expect-error: Property 'vae' is missing
export const opt = partition({ all: adamw<SitVae>() }, { sit: 'all' });
