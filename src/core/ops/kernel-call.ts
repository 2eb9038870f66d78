/**
 * @file Calling a kernel by name on the active backend, for the ops (fused, foreach) that run one
 * native kernel where a backend registers it and a composed formula elsewhere. Not re-exported by
 * the ops index. (trusted)
 */
import * as tf from '@tensorflow/tfjs-core';

/** Whether the active backend registers kernel `name`. */
export const hasKernel = (name: string): boolean => tf.getKernel(name, tf.getBackend()) !== undefined;

/** Runs a registered kernel; always an array of outputs. */
export const runKernelList = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}): tf.Tensor[] => {
  const r = tf.engine().runKernel(name, inputs, attrs) as tf.Tensor | tf.Tensor[];
  return Array.isArray(r) ? r : [r];
};
