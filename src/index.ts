/**
 * @file repae — functional tensor programs with effect-typed gradients on tfjs, and REPA-E
 * (end-to-end VAE + latent diffusion transformer training) built on them.
 */
export * as core from './core/index.js';
export * as backends from './backends/index.js';
export * as nn from './nn/index.js';
export * as models from './models/index.js';
export * as losses from './losses/vae.js';
export * as discLosses from './losses/disc.js';
export * as optim from './optim/optim.js';
export * as ema from './optim/ema.js';
export * as train from './train/loop.js';
export * as config from './train/config.js';
export * as repae from './repae/step.js';
export * as routing from './repae/routing.js';
export * as registry from './repae/registry.js';
export * as run from './train/run.js';
export * as evaluate from './train/evaluate.js';
export * as sample from './sample/index.js';
export * as metrics from './metrics/index.js';
export * as data from './data/index.js';
export * as safetensors from './io/safetensors.js';
export * as checkpoint from './io/checkpoint.js';
export * as png from './io/png.js';
export * as npz from './io/npz.js';
export * as statedict from './io/statedict/index.js';
export * as golden from './golden/runner.js';
