/** @file Data: decoding, image folders (disk and tar.gz), CIFAR PNG strips, the synthetic default set, ADM preprocessing, deterministic loaders. */
export * from './image.js';
export * from './dataset.js';
export * from './tar.js';
export * from './image-folder.js';
export * from './cifar-png.js';
export * from './preprocess.js';
export * from './synthetic.js';
