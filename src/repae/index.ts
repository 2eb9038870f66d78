/** @file REPA-E: the parameter registry, the routing table as code, the pure training step, runs and their evaluation. */
export * from './registry.js';
export * from './routing.js';
export * from './step.js';
export * from './run.js';
export * from './evaluate.js';
