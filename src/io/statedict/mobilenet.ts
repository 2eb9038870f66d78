/**
 * @file MobileNet v1 from a tfjs layers model (Keras 2.1 MobileNet layout: 'same' padding,
 * Activation relu6): the official layer names ↔ {@link MobilenetParams}, BN folded into the convs.
 */
import { tensor } from '../../core/ops/create.js';
import { tidy } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import {
  MobilenetLoadError,
  mobilenetV1Filters,
  mobilenetV1Strides,
  type MobilenetBlockParams,
  type MobilenetConfig,
  type MobilenetConvParams,
  type MobilenetParams,
} from '../../models/encoders/mobilenet.js';
import { readLayersModelDir, type LayersModel, type LayersModelLayer } from '../tfjs-layers.js';


function expectLayer(m: LayersModel, name: string, className: readonly string[]): LayersModelLayer {
  const l = m.layers.find((x) => x.name === name);
  if (l === undefined) throw new MobilenetLoadError(`${m.source}: no layer '${name}' (not a Keras MobileNet v1 topology)`);
  if (!className.includes(l.className))
    throw new MobilenetLoadError(`${m.source}: layer '${name}' is a ${l.className}, expected ${className.join(' or ')}`);
  return l;
}

function checkConv(m: LayersModel, name: string, cls: string, stride: number, kernel: number, inbound: string): void {
  const l = expectLayer(m, name, [cls]);
  const st = l.config['strides'], pad = l.config['padding'], ks = l.config['kernel_size'];
  if (JSON.stringify(st) !== JSON.stringify([stride, stride]))
    throw new MobilenetLoadError(`${m.source}: layer '${name}' has strides ${JSON.stringify(st)}, expected [${stride}, ${stride}]`);
  if (pad !== 'same')
    throw new MobilenetLoadError(
      `${m.source}: layer '${name}' has padding ${JSON.stringify(pad)}; only the Keras 2.1 layout with 'same' padding is supported (no ZeroPadding2D)`,
    );
  if (JSON.stringify(ks) !== JSON.stringify([kernel, kernel]))
    throw new MobilenetLoadError(`${m.source}: layer '${name}' has kernel_size ${JSON.stringify(ks)}, expected [${kernel}, ${kernel}]`);
  if (l.inbound[0] !== inbound)
    throw new MobilenetLoadError(`${m.source}: layer '${name}' takes input from '${l.inbound.join(', ')}', expected '${inbound}'`);
}

function checkRelu6(m: LayersModel, name: string): void {
  const l = expectLayer(m, name, ['Activation', 'ReLU']);
  const ok = l.className === 'Activation' ? l.config['activation'] === 'relu6' : l.config['max_value'] === 6;
  if (!ok) throw new MobilenetLoadError(`${m.source}: layer '${name}' is not a ReLU6 (${JSON.stringify(l.config)})`);
}

function weight(m: LayersModel, name: string, shape?: readonly number[]): Float32Array {
  const w = m.weights.get(name);
  if (w === undefined) throw new MobilenetLoadError(`${m.source}: missing weight '${name}'${shape ? ` (expected [${shape.join(', ')}])` : ''}`);
  if (shape !== undefined && JSON.stringify(w.shape) !== JSON.stringify(shape))
    throw new MobilenetLoadError(`${m.source}: weight '${name}' has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`);
  return w.data;
}

/** Folds BatchNorm `bn` into a kernel whose last axes are `[…, C]` (output channel = flat index mod C). */
function fold(m: LayersModel, kernel: Float32Array, kshape: readonly number[], bn: string): MobilenetConvParams<never> {
  // depthwise [kh, kw, C, mult]: output channel c·mult + m; regular [kh, kw, Cin, Cout]: o
  const cout = bn.startsWith('conv_dw') ? kshape[2]! * kshape[3]! : kshape[3]!;
  const l = expectLayer(m, bn, ['BatchNormalization']);
  const eps = typeof l.config['epsilon'] === 'number' ? l.config['epsilon'] : 1e-3;
  const gamma = l.config['scale'] === false ? new Float32Array(cout).fill(1) : weight(m, `${bn}/gamma`, [cout]);
  const beta = l.config['center'] === false ? new Float32Array(cout) : weight(m, `${bn}/beta`, [cout]);
  const mu = weight(m, `${bn}/moving_mean`, [cout]);
  const vr = weight(m, `${bn}/moving_variance`, [cout]);
  const s = new Float64Array(cout);
  const b = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    s[o] = gamma[o]! / Math.sqrt(vr[o]! + eps);
    b[o] = beta[o]! - mu[o]! * s[o]!;
  }
  const w = new Float32Array(kernel.length);
  for (let i = 0; i < kernel.length; i++) w[i] = kernel[i]! * s[i % cout]!;
  return { w: tensor(w, kshape), b: tensor(b, [cout]) };
}

/**
 * Builds MobileNet v1 parameters from a parsed tfjs layers model (Keras `MobileNet(alpha, 224)`):
 * checks the topology (names, classes, strides, padding, ReLU6, wiring) with errors naming the
 * layer, infers α from `conv1`, folds every BatchNorm into its convolution.
 * @category models
 */
export function mobilenetFromLayersModel(m: LayersModel): { readonly config: MobilenetConfig; readonly params: MobilenetParams<never> } {
  checkConv(m, 'conv1', 'Conv2D', 2, 3, expectLayer(m, 'conv1', ['Conv2D']).inbound[0] ?? '');
  checkRelu6(m, 'conv1_relu');
  const f1 = expectLayer(m, 'conv1', ['Conv2D']).config['filters'];
  if (typeof f1 !== 'number') throw new MobilenetLoadError(`${m.source}: layer 'conv1' has no filter count`);
  const alpha = f1 / 32;
  let prev = 'conv1_relu';
  for (let i = 1; i <= 13; i++) {
    checkConv(m, `conv_dw_${i}`, 'DepthwiseConv2D', mobilenetV1Strides[i - 1]!, 3, prev);
    checkRelu6(m, `conv_dw_${i}_relu`);
    checkConv(m, `conv_pw_${i}`, 'Conv2D', 1, 1, `conv_dw_${i}_relu`);
    checkRelu6(m, `conv_pw_${i}_relu`);
    prev = `conv_pw_${i}_relu`;
  }
  const predsW = m.weights.get('conv_preds/kernel');
  if (predsW === undefined) throw new MobilenetLoadError(`${m.source}: missing weight 'conv_preds/kernel' (a MobileNet without its classifier is not supported)`);
  const numClasses = predsW.shape[3] ?? 0;
  const input = m.layers.find((l) => l.className === 'InputLayer');
  const bis = input?.config['batch_input_shape'];
  const inputSize = Array.isArray(bis) && typeof bis[1] === 'number' ? bis[1] : 224;

  const params = tidy(() => {
    const c1 = Math.floor(32 * alpha);
    const conv1 = fold(m, weight(m, 'conv1/kernel', [3, 3, 3, c1]), [3, 3, 3, c1], 'conv1_bn');
    let cin = c1;
    const blocks: MobilenetBlockParams<never>[] = [];
    for (let i = 1; i <= 13; i++) {
      const cout = Math.floor(mobilenetV1Filters[i - 1]! * alpha);
      const dw = fold(m, weight(m, `conv_dw_${i}/depthwise_kernel`, [3, 3, cin, 1]), [3, 3, cin, 1], `conv_dw_${i}_bn`);
      const pw = fold(m, weight(m, `conv_pw_${i}/kernel`, [1, 1, cin, cout]), [1, 1, cin, cout], `conv_pw_${i}_bn`);
      blocks.push({ dw, pw });
      cin = cout;
    }
    const preds = {
      w: tensor(weight(m, 'conv_preds/kernel', [1, 1, cin, numClasses]), [1, 1, cin, numClasses]),
      b: tensor(weight(m, 'conv_preds/bias', [numClasses]), [numClasses]),
    };
    return { conv1, blocks, preds };
  });
  return { config: { alpha, numClasses, inputSize }, params };
}

/**
 * Loads MobileNet v1 from a tfjs layers-model directory (`model.json` + shards), Node.js only.
 * The returned parameters are constants (`T<never>`); store them under the frozen encoder group.
 * @example
 * const { config, params } = await loadMobilenet('../shared/data/mobilenet-v1-0.75')   // config.alpha = 0.75
 * @category models
 */
export async function loadMobilenet(dir: string): Promise<{ readonly config: MobilenetConfig; readonly params: MobilenetParams<never> }> {
  return mobilenetFromLayersModel(await readLayersModelDir(dir));
}
