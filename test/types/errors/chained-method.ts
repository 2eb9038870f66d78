// Chained tfjs methods do not exist on a tracked tensor (even with tfjs's chained ops loaded).
import '@tensorflow/tfjs-core';
import type { T } from '../../../src/core/index.js';
declare const liveZ: T<'vae'>;
// expect-error: Property 'mean' does not exist on type 'T<"vae">'
export const m = liveZ.mean();
