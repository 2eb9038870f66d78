// Writing the naive-E2E objective by hand: a loss over 'vae' whose value goes through the SiT on a live latent
// is fine for the VAE group, but declaring the SiT objective's groups to include 'vae' needs the escape hatch:
// the routing table types pin the SiT objective to exactly 'sit|proj'.
import type { ParseGroups } from '../../../src/core/index.js';
import { repaeRoutes } from '../../../src/repae/routing.js';
// expect-error: Type '"vae"' is not assignable to type '"sit" | "proj"'
export const widened: ParseGroups<typeof repaeRoutes.repaSit.mayDifferentiate> = 'vae';
