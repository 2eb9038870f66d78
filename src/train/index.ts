/** @file The application: run setup, the run configuration, the training loop, the evaluation of runs and its judge (optimizers re-exported from `repae/optim`). */
export * from '../optim/index.js';
export * from './config.js';
export * from './loop.js';
export * from './run.js';
export * from './evaluate.js';
export * from './judge.js';
export * from './distributed.js';
