/** @file Optimizers as gradient transformations over parameter groups, and the EMA of parameters. */
export * from './optim.js';
export * from './ema.js';
