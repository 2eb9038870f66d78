/** @file SiT (REPA-E's diffusion transformer): configs, parameters, embeddings, interpolants, and forward passes (the losses are in `losses/diffusion.ts`). */
export * from './config.js';
export * from './params.js';
export * from './embed.js';
export * from './interpolant.js';
export * from './forward.js';
