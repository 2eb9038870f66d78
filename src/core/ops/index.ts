/** @file Re-exports of every typed op. */
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './linalg.js';
export * from './conv.js';
export * from './create.js';
export * from './fused.js';
export * from './foreach.js';
