import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { stopGradient } from '../../src/core/stop.js';
import { add, mul, square } from '../../src/core/ops/elementwise.js';
import type { T } from '../../src/core/tensor.js';
import { describeEachBackend } from '../helpers/backends.js';

describeEachBackend('stopGradient', () => {
  it('cuts the gradient but keeps the value (DESIGN 9.5 check)', async () => {
    const before = tf.memory().numTensors;
    const a = tf.scalar(3) as T<'a'>, b = tf.scalar(5) as T<'b'>;
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => {
      const xa = x as T<'a'>, yb = y as T<'b'>;
      return add(mul(stopGradient(square(xa)), yb), mul(square(xa), 2));
    })([a, b]);
    expect(await ga!.data()).toEqual(new Float32Array([12]));
    expect(await gb!.data()).toEqual(new Float32Array([9]));
    tf.dispose([a, b, ga!, gb!]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
