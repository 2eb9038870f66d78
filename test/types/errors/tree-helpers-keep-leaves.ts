// unflatten/mapTree return trees whose leaves have the type of the leaves they were handed.
import { mapTree, unflatten, type Store, type T } from '../../../src/core/index.js';
import type { Toy, ToySit } from '../../helpers/toy.js';
declare const store: Store<Toy>;
declare const liveZ: T<'vae'>;
// expect-error: Type 'T<"vae">' is not assignable to type 'T<never>'
export const a: ToySit<never> = unflatten(store.sit, [liveZ, liveZ]);
// expect-error: Type 'T<"vae">' is not assignable to type 'T<never>'
export const b: ToySit<never> = mapTree(store.sit, () => liveZ);
