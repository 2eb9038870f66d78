/** @file Evaluation and analysis metrics (spec §9): FID (+ the pytorch-fid Inception), precision/recall, PSNR/SSIM/LPIPS, latent structure, CKNNA, latent PCA images. */
export * from './host.js';
export * from './linalg.js';
export * from './fid.js';
export * from './precision-recall.js';
export * from './recon.js';
export * from './latent.js';
export * from './cknna.js';
export * from './pca-image.js';
export * from './inception.js';
