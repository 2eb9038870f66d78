/** @file The no-leak law: a program leaves tf.memory().numTensors unchanged (apart from what it returns and the caller disposes). */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs `program` `times` times and returns how many tensors each run left behind on average
 * (0 = holds). The program must dispose what it returns (or return nothing).
 * @category laws
 */
export async function tensorsLeaked(program: () => unknown, times = 2): Promise<number> {
  await program(); // warm up: lazily created constants (e.g. backend scratch) are not leaks
  const before = tf.memory().numTensors;
  for (let i = 0; i < times; i++) await program();
  return (tf.memory().numTensors - before) / times;
}
