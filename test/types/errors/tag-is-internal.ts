// The trusted cast `tag` is not exported by any public index.
// expect-error: has no exported member 'tag'
import { tag } from '../../../src/core/index.js';
import { core } from '../../../src/index.js';
export const t = tag;
// expect-error: Property 'tag' does not exist on type
export const t2 = core.tag;
