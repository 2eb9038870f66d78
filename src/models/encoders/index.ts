/** @file Frozen representation encoders (REPA targets): MobileNet v1, DINOv2, the token-grid contract, PyTorch-exact bicubic resizing. */
export * from './encoder.js';
export * from './mobilenet.js';
export * from './dinov2.js';
export * from './resize.js';
