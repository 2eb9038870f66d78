/**
 * @file The judge: a small classifier trained on freshly generated images of the built-in dataset
 * (never the run's own images, a key of its own) that labels generated samples and
 * reconstructions, so a report can say how recognisable they are.
 */
import { fold, key as mkKey, type Key } from '../core/rng.js';
import { dispose, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { argMax, read } from '../core/ops/index.js';
import type { Dataset } from '../data/dataset.js';
import { syntheticClasses, syntheticDataset } from '../data/synthetic.js';
import type { SafeFile, SafeWriteEntry } from '../io/safetensors.js';
import { tinyCnnLogits, type TinyCnnParams } from '../models/encoders/tiny-cnn.js';
import { batchAt, tinyCnnFromSafe, trainTinyEncoder, treeSection, type RunSetup } from './run.js';

/** A trained judge and how well it does on fresh images it never saw. @category metrics */
export interface Judge {
  /** The classifier's parameters (a tiny CNN, frozen). */
  readonly params: TinyCnnParams<never>;
  /** Accuracy on `testSize` fresh images (its own key). */
  readonly testAccuracy: number;
  readonly testSize: number;
  /** Number of distinct fresh images it was trained on (every training image is seen once). */
  readonly trainImages: number;
  /** What it is, in one sentence (for reports). */
  readonly origin: string;
}

/** Options of {@link trainJudge}. @category metrics */
export interface JudgeOptions {
  /** Root key of the judge's own images and initialisation (default: derived from the run seed, never the run's data key). */
  readonly key?: Key;
  readonly steps?: number;
  readonly batchSize?: number;
  readonly testSize?: number;
}

/** Predicted classes of images `[N, H, W, 3]` in [−1, 1]. @category metrics */
export async function judgeLabels(judge: Judge, x: T<never>): Promise<Int32Array> {
  const p = tidy(() => argMax(tinyCnnLogits(judge.params, x), -1));
  const out = Int32Array.from(await read(p));
  dispose(p);
  return out;
}

/** Fraction of `x`'s images the judge assigns to `labels` (one label per image). @category metrics */
export async function judgeAccuracy(judge: Judge, x: T<never>, labels: ArrayLike<number>): Promise<number> {
  const pred = await judgeLabels(judge, x);
  if (pred.length !== labels.length) throw new RangeError(`judgeAccuracy: ${pred.length} images but ${labels.length} labels`);
  let ok = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === labels[i]) ok++;
  return pred.length === 0 ? NaN : ok / pred.length;
}

const judgeKey = (setup: RunSetup, o: JudgeOptions): Key => o.key ?? mkKey(setup.cfg.seed + 1_000_003);

/** The fresh images {@link trainJudge} trains on (`steps × batchSize`, each seen once; a key of their own). @category metrics */
export const judgeImages = (setup: RunSetup, o: JudgeOptions = {}): Dataset =>
  syntheticDataset({ key: fold(judgeKey(setup, o), 1), length: (o.steps ?? 400) * (o.batchSize ?? 32), imageSize: setup.cfg.resolution });

/**
 * Trains the judge for the built-in dataset (`builtin:shapes`): the same tiny CNN as the built-in
 * encoder, but with its own initialisation and on `steps × batchSize` images drawn fresh from the
 * generator under a key of its own (each seen once), then measures it on `testSize` further fresh
 * images. It never sees the run's training images, samples or reconstructions.
 * @category metrics
 */
export async function trainJudge(setup: RunSetup, log: (s: string) => void, o: JudgeOptions = {}): Promise<Judge> {
  const key = judgeKey(setup, o);
  const steps = o.steps ?? 400, batchSize = o.batchSize ?? 32, testSize = o.testSize ?? 500;
  const train = judgeImages(setup, o);
  const judgeSetup: RunSetup = { ...setup, cfg: { ...setup.cfg, batchSize }, stepKey: fold(key, 2), dataKey: fold(key, 3) };
  const params = await trainTinyEncoder(train, judgeSetup, steps, (s) => log(s.replace('encoder step', 'judge step')));
  const testAccuracy = await freshAccuracy(params, setup, fold(key, 4), testSize);
  const origin = `a tiny CNN classifier trained for ${steps} steps of batch ${batchSize} on ${steps * batchSize} freshly generated images (its own key: none of them is a training image of the run), ${(100 * testAccuracy).toFixed(1)}% accurate on ${testSize} further fresh images`;
  log(`judge: ${origin}`);
  return { params, testAccuracy, testSize, trainImages: steps * batchSize, origin };
}

/** Accuracy of judge weights on `n` images drawn fresh from the generator under `key` (each once). */
async function freshAccuracy(params: TinyCnnParams<never>, setup: RunSetup, key: Key, n: number): Promise<number> {
  const test = syntheticDataset({ key, length: n, imageSize: setup.cfg.resolution });
  // every test image once (batchAt's epoch order; accuracy does not depend on it)
  const b = batchAt(test, { ...setup, cfg: { ...setup.cfg, batchSize: n }, dataKey: fold(key, 1) }, 0);
  const acc = await judgeAccuracy({ params, testAccuracy: NaN, testSize: n, trainImages: 0, origin: '' }, b.x, await read(b.y));
  dispose([b.x, b.y, b.pixels]);
  return acc;
}

/** How a saved judge was trained (kept next to its weights, see {@link judgeRecord}). @category metrics */
export interface JudgeRecord {
  readonly steps: number;
  readonly batchSize: number;
  readonly trainImages: number;
  /** Accuracy measured when it was trained, on `testSize` fresh images. */
  readonly testAccuracy: number;
  readonly testSize: number;
}

/** The record of a trained judge, for saving next to {@link judgeWeights}. @category metrics */
export const judgeRecord = (j: Judge, steps: number, batchSize: number): JudgeRecord =>
  ({ steps, batchSize, trainImages: j.trainImages, testAccuracy: j.testAccuracy, testSize: j.testSize });

/** The judge's weights as a checkpoint section (tensors by tree path). @category metrics */
export const judgeWeights = (j: Judge): Promise<Map<string, SafeWriteEntry>> => treeSection(j.params);

/**
 * A saved judge (weights from checkpoint section `judge`, trained as `rec` says), measured again
 * now on `testSize` fresh images under a key it has never seen (neither its training nor its
 * first test images), so a report states what it does today. `where` names the file in its origin.
 * @category metrics
 */
export async function restoreJudge(setup: RunSetup, file: SafeFile, rec: JudgeRecord, where: string, log: (s: string) => void, o: Pick<JudgeOptions, 'key' | 'testSize'> = {}): Promise<Judge> {
  const params = tinyCnnFromSafe(file, Math.max(setup.cfg.numClasses, syntheticClasses.length), 'judge');
  const testSize = o.testSize ?? 500;
  const testAccuracy = await freshAccuracy(params, setup, fold(judgeKey(setup, o), 5), testSize);
  const origin = `a tiny CNN classifier trained separately (${where}) for ${rec.steps} steps of batch ${rec.batchSize} on ${rec.trainImages} freshly generated images (its own key: none of them is a training image of the run), ${(100 * testAccuracy).toFixed(1)}% accurate on ${testSize} further fresh images drawn now`;
  log(`judge: ${origin}`);
  return { params, testAccuracy, testSize, trainImages: rec.trainImages, origin };
}
