/** @file Explicit PRNG keys (JAX style): no global randomness; the same key always gives the same numbers. */
import * as tf from '@tensorflow/tfjs-core';
import { tag } from './internal.js';
import type { T } from './tensor.js';

/**
 * A PRNG key: two unsigned 32-bit words, plain data (JSON-serialisable, checkpointable).
 * @category constructors
 */
export type Key = readonly [number, number];

/** Creates a key from an integer seed. @category constructors */
export const key = (seed: number): Key => [mix32(seed >>> 0, 0x9e3779b9), mix32(seed >>> 0, 0x85ebca6b)];

function mix32(a: number, b: number): number {
  let x = (Math.imul(a ^ 0x27d4eb2d, 0x9e3779b1) + Math.imul(b, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Derives a new key from `k` and an integer `data` (e.g. a step number or a layer index). @category constructors */
export const fold = (k: Key, data: number): Key => [mix32(k[0], data >>> 0), mix32(k[1] ^ 0x5bd1e995, data >>> 0)];

/** Splits a key into `n` independent keys. @category constructors */
export const split = (k: Key, n = 2): Key[] => Array.from({ length: n }, (_, i) => fold(k, i + 1));

/** A deterministic stream of uint32 values from a key (xoshiro128**, seeded by the key). */
function stream(k: Key): () => number {
  let a = k[0] | 1, b = k[1] ^ 0x9e3779b9, c = mix32(k[0], 1) | 0, d = mix32(k[1], 2) | 0;
  return () => {
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11);
    return r;
  };
}
const rotl = (x: number, s: number): number => (x << s) | (x >>> (32 - s));

/** `n` uniform float64 numbers in [0, 1) from a key (plain JS, identical on every backend). @category constructors */
export function uniformArray(k: Key, n: number): Float64Array {
  const next = stream(k);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (next() * 2 ** 21 + (next() >>> 11)) / 2 ** 53;
  return out;
}

/** `n` standard-normal numbers from a key (Box–Muller over {@link uniformArray}). @category constructors */
export function normalArray(k: Key, n: number): Float64Array {
  const u = uniformArray(k, n + (n % 2));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - (u[i] as number)));
    const th = 2 * Math.PI * (u[i + 1] as number);
    out[i] = r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Uniform [0, 1) float32 tensor of `shape` (a constant). @category constructors */
export const uniform = (k: Key, shape: readonly number[]): T<never> =>
  tag<never>(tf.tensor(Float32Array.from(uniformArray(k, size(shape))), [...shape], 'float32'));

/** Standard-normal float32 tensor of `shape` (a constant). @category constructors */
export const normal = (k: Key, shape: readonly number[]): T<never> =>
  tag<never>(tf.tensor(Float32Array.from(normalArray(k, size(shape))), [...shape], 'float32'));

/** A deterministic permutation of `0..n-1` (Fisher–Yates) from a key. @category constructors */
export function permutation(k: Key, n: number): number[] {
  const u = uniformArray(k, n);
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor((u[i] as number) * (i + 1));
    [p[i], p[j]] = [p[j] as number, p[i] as number];
  }
  return p;
}
