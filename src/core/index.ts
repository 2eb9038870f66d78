/** @file The typed core: tracked tensors, typed ops, stop-gradient, trees, groups, routed losses, keys. */
export * from './tensor.js';
export * from './groups.js';
export * from './loss.js';
export * from './grad.js';
export * from './stop.js';
export * from './tree.js';
export * as rng from './rng.js';
export type { Key } from './rng.js';
export * from './ops/index.js';
export * from './scope.js';
export * from './testing.js';
