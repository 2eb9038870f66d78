// An optimizer table that forgets a trainable group.
import { adamw, type Optimizers } from '../../../src/optim/optim.js';
import type { Toy } from '../../helpers/toy.js';
// expect-error: Property 'vae' is missing
export const opts: Optimizers<Toy> = { sit: adamw() };
