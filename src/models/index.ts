/** @file The models: SiT (+ projectors), the VAE, the PatchGAN discriminator, LPIPS and the frozen encoders. */
export * as sit from './sit/index.js';
export * as vae from './vae/index.js';
export * as discriminator from './discriminator.js';
export * as lpips from './lpips.js';
export * as lpipsProcedural from './lpips-procedural.js';
export * as encoders from './encoders/index.js';
export * as tinyCnn from './encoders/tiny-cnn.js';
