/**
 * @file repae — functional tensor programs with effect-typed gradients on tfjs, and REPA-E
 * (end-to-end VAE + latent diffusion transformer training) built on them.
 */
export * as core from './core/index.js';
export * as backends from './backends/index.js';
export * as optim from './train/optim.js';
export * as ema from './train/ema.js';
export * as safetensors from './io/safetensors.js';
export { batchNorm, type BatchNormState, type BatchNormConfig, type Mode } from './nn/batch-norm.js';
