/** @file The REPA-E objectives: the VAE reconstruction loss (L1 + LPIPS + KL + GAN generator) and the discriminator hinge loss. */
export * from './vae.js';
export * from './disc.js';
export * from './diffusion.js';
export * from './repa.js';
export * from './classification.js';
