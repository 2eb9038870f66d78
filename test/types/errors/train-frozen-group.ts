// Training a frozen group (the representation encoder).
import { mean, type T } from '../../../src/core/index.js';
import { toy } from '../../helpers/toy.js';
// expect-error: Type '"enc"' is not assignable to type '"vae" | "sit"'
export const bad = toy.loss('enc', ['enc'], (v, x: T<never>) => [mean(x), {}] as const);
