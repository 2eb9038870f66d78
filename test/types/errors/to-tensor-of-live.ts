// toTensor() hands out constants only: a live tensor cannot leave the typed world.
import { toTensor, type T } from '../../../src/core/index.js';
declare const liveZ: T<'vae'>;
// expect-error: Argument of type 'T<"vae">' is not assignable to parameter of type 'T<never>'
export const r = toTensor(liveZ);
