/** @file Pure layers: params records + init + forward, generic in their group tag. */
export * from './linear.js';
export * from './layer-norm.js';
export * from './attention.js';
export * from './mlp.js';
export * from './conv.js';
export * from './group-norm.js';
export * from './batch-norm.js';
export * from './batch-norm-affine.js';
