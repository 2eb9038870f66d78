import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { stopGradient } from '../../src/core/stop.js';
import { add, mul, square } from '../../src/core/ops/elementwise.js';
import { scalar } from '../../src/core/ops/create.js';
import { defineRegistry, type Registry } from '../../src/core/index.js';
import { dispose } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { describeEachBackend } from '../helpers/backends.js';

interface P<G extends string> { readonly x: T<G> }
interface AB extends Registry { readonly Frozen: never; readonly a: P<this['G']>; readonly b: P<this['G']> }
const ab = defineRegistry<AB>({ groups: ['a', 'b'], frozen: [] });

describeEachBackend('stopGradient', () => {
  it('cuts the gradient but keeps the value (DESIGN 9.5 check)', async () => {
    const before = tf.memory().numTensors;
    const store = { a: { x: scalar(3) }, b: { x: scalar(5) } };
    const l = ab.loss('sg', 'a|b', (v, _: null) => [add(mul(stopGradient(square(v.a.x)), v.b.x), mul(square(v.a.x), 2)), {}] as const);
    const [value, g] = ab.valueAndGrad(l, 'a|b')(store, null);
    expect(await value.data()).toEqual(new Float32Array([9 * 5 + 18]));
    expect(await g.a.x!.data()).toEqual(new Float32Array([12]));
    expect(await g.b.x!.data()).toEqual(new Float32Array([9]));
    dispose([store, value, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
