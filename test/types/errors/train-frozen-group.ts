// Training a frozen group (the representation encoder): not in a loss, not in freeze, not in valueAndGrad.
import { mean, type T } from '../../../src/core/index.js';
import { alignToy, toy } from '../../helpers/toy.js';
// expect-error: group 'enc' is frozen: it is read, never trained; allowed:": "vae" | "sit"
export const bad = toy.loss('enc', 'enc', (v, x: T<never>) => [mean(x), {}] as const);
// expect-error: group 'enc' is frozen: it is read, never trained
export const joint = toy.loss('enc', 'sit|enc', (v, x: T<never>) => [mean(x), {}] as const);
// expect-error: group 'enc' is frozen: it is read, never trained
export const g = toy.valueAndGrad(alignToy, 'sit|enc');
