/** @file Training: optimizers as gradient transformations, EMA, the run configuration and the training loop. */
export * from './optim.js';
export * from './ema.js';
export * from './config.js';
export * from './loop.js';
export * from './distributed.js';
