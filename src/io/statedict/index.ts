/** @file Official PyTorch state-dict names ↔ repae parameter records (and the diffusers VAE layout). */
export * as entries from './entries.js';
export * as sit from './sit.js';
export * as vae from './vae.js';
export * as diffusersVae from './diffusers-vae.js';
export * as discriminator from './discriminator.js';
export * as lpips from './lpips.js';
export * as dinov2 from './dinov2.js';
export * as inception from './inception.js';
export * as mobilenet from './mobilenet.js';
