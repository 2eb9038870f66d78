/** @file I/O: safetensors, crash-safe checkpoints, PNG, NumPy `.npz`, host transfers, tfjs layers models and official state-dict names. */
export * from './safetensors.js';
export * from './tensors.js';
export * from './checkpoint.js';
export * from './png.js';
export * from './npz.js';
export * from './atomic.js';
export * from './tfjs-layers.js';
export * as statedict from './statedict/index.js';
export * from './pca-png.js';
