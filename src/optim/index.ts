/** @file Optimizers as typed gradient transformations over parameter trees (optax style: chain, partition), and the EMA of parameters. */
export * from './optim.js';
export * from './ema.js';
