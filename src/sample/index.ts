/** @file Samplers: Euler / Heun ODE, Euler–Maruyama SDE, classifier-free guidance with an interval. */
export * from './cfg.js';
export * from './euler.js';
export * from './sde.js';
