/** @file Golden fixtures: runs every fixture in a directory against the official PyTorch outputs (`repae golden`). */
export * from './runner.js';
