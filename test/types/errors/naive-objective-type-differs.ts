// The naive end-to-end objective's type differs from the default VAE objective's: a default
// objective cannot be passed off as the UNSAFE one (its aux carries the capability).
import { UNSAFE_naiveEndToEndVaeObjective, vaeObjective } from '../../../src/repae/routing.js';
// expect-error: Property 'naiveEndToEnd' is missing
export const u: typeof UNSAFE_naiveEndToEndVaeObjective = vaeObjective;
