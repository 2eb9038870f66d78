/** @file REPA-E: the parameter registry, the routing table as code and the pure training step (no fs, no data, no I/O; runs live in `repae/train`). */
export * from './registry.js';
export * from './routing.js';
export * from './step.js';
