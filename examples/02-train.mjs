// Plain Node (no TypeScript): trains a tiny routed loss, then checks the routing law on it.
import * as fc from 'fast-check';
import { useBestBackend } from 'repae/backends';
import { defineRegistry, matMul, mean, numTensors, readScalar, releaseOld, rng, square, sub, tanh, tensor } from 'repae/core';
import { sgd, updateParams } from 'repae/train';
import { checkRouting, tensorData } from 'repae/laws';

console.log('backend', await useBestBackend());
const model = defineRegistry({ groups: ['enc', 'head'], frozen: [] });
// The head fits y from encoder features it may not differentiate; the encoder gets a small weight penalty.
const fit = model.loss('fit', 'head', (v, b) => [mean(square(sub(matMul(tanh(matMul(b.x, v.enc.w)), v.head.w), b.y))), {}]);
const decay = model.loss('decay', 'enc', (v) => [mean(square(v.enc.w)), {}]);
const objective = model.sum([fit, 1], [decay, 0.1]);

const [k1, k2, k3, k4] = rng.split(rng.key(0), 4);
let store = { enc: { w: rng.normal(k1, [4, 8]) }, head: { w: rng.normal(k2, [8, 1]) } };
const batch = { x: rng.normal(k3, [16, 4]), y: rng.normal(k4, [16, 1]) };
const opt = sgd(0.1);
const before = numTensors();
const losses = [];
for (let step = 0; step < 30; step++) {
  const [value, grads] = model.valueAndGrad(objective, 'enc|head')(store, batch);
  losses.push(await readScalar(value));
  const [next] = updateParams(opt, store, grads, null);
  releaseOld([store, grads, value], next);
  store = next;
}
console.log(`loss ${losses[0].toFixed(4)} -> ${losses.at(-1).toFixed(4)}; live tensors ${before} -> ${numTensors()}`);

// The law: ∇ of the sum equals the coefficient-weighted sum of each term's gradients, group by group.
const data = (d) => tensor(d.data, d.shape);
await checkRouting(
  model,
  [[fit, 1], [decay, 0.1]],
  objective,
  { store: fc.record({ enc: tensorData([4, 8]), head: tensorData([8, 1]) }), batch: fc.record({ x: tensorData([16, 4]), y: tensorData([16, 1]) }) },
  { store: (d) => ({ enc: { w: data(d.enc) }, head: { w: data(d.head) } }), batch: (d) => ({ x: data(d.x), y: data(d.y) }) },
  { numRuns: 10 },
);
console.log('routing law holds');
