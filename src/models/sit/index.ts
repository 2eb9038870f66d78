/** @file SiT (REPA-E's diffusion transformer): configs, parameters, embeddings, interpolants, forward passes and losses. */
export * from './config.js';
export * from './params.js';
export * from './embed.js';
export * from './interpolant.js';
export * from './forward.js';
