/** The generic checkpoint codec of optimizer state (encodeState/decodeState): any tree, through tree paths, into safetensors and back. */
import { beforeAll, expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { read, scalar, tensor } from '../../src/core/ops/index.js';
import { dispose, numTensors } from '../../src/core/scope.js';
import { readSafetensors, writeSafetensors, type SafeWriteEntry } from '../../src/io/safetensors.js';
import { decodeState, decodeStateLike, encodeState } from '../../src/train/run.js';
import { CheckpointError } from '../../src/io/checkpoint.js';

beforeAll(async () => {
  await useBackend('cpu');
});

it('round-trips a nested state (partition labels, a null moment, step counts, tensors) through safetensors bytes', async () => {
  const before = numTensors();
  const m = tensor(new Float32Array([1, -2, 3.5, 4]), [2, 2]);
  const v = scalar(0.25);
  const state = { labels: ['a', 'b', 'a'], inner: { a: [null, { norm: null }, [{ step: 3, m, v }, { step: 0, m: null, v: null }]], b: [null, { norm: null }, []] } };
  const entries = new Map<string, SafeWriteEntry>();
  const skeleton = await encodeState(state, '', entries);
  expect([...entries.keys()].sort()).toEqual(['inner.a.2.0.m', 'inner.a.2.0.v']);
  const file = readSafetensors(writeSafetensors(entries));
  const back = decodeState(JSON.parse(JSON.stringify(skeleton)), file, 'opt.safetensors') as typeof state;
  expect(back.labels).toEqual(['a', 'b', 'a']);
  const leaf = back.inner.a[2] as unknown as { step: number; m: typeof m | null; v: typeof v | null }[];
  expect(leaf[0]!.step).toBe(3);
  expect([...(await read(leaf[0]!.m!))]).toEqual([1, -2, 3.5, 4]);
  expect(leaf[0]!.m!.shape).toEqual([2, 2]);
  expect([...(await read(leaf[0]!.v!))]).toEqual([0.25]);
  expect(leaf[1]).toEqual({ step: 0, m: null, v: null });
  dispose([m, v, leaf[0]!.m!, leaf[0]!.v!]);
  expect(numTensors()).toBe(before);
});

it('names a missing tensor and refuses non-float32 state', async () => {
  const file = readSafetensors(writeSafetensors(new Map()));
  expect(() => decodeState({ x: { $tensor: 'inner.a.2.0.m' } }, file, 'ck/opt.safetensors')).toThrow(/ck\/opt\.safetensors: no tensor 'inner\.a\.2\.0\.m'/);
  const i = tensor(new Int32Array([1]), [1], 'int32');
  await expect(encodeState({ k: i }, '', new Map())).rejects.toThrow(CheckpointError);
  dispose(i);
});

it('decodeStateLike checks the saved tree against a fresh state: keys, array lengths, scalars, tensor shapes; a lazy null may come back as a tensor', async () => {
  const before = numTensors();
  const m = tensor(new Float32Array([1, 2]), [2]);
  const saved = { a: [null, { norm: null }, { w: { step: 2, m, v: null } }] };
  const entries = new Map<string, SafeWriteEntry>();
  const skeleton = JSON.parse(JSON.stringify(await encodeState(saved, '', entries)));
  const file = readSafetensors(writeSafetensors(entries));
  const like = { a: [null, { norm: null }, { w: { step: 0, m: null, v: null } }] } as const;
  const back = decodeStateLike(like, skeleton, file, 'ck/opt.safetensors');
  const leaf = back.a[2].w as unknown as { step: number; m: typeof m | null; v: null };
  expect(leaf.step).toBe(2);
  expect([...(await read(leaf.m!))]).toEqual([1, 2]);
  expect(leaf.v).toBeNull();
  dispose([m, leaf.m]);
  const bad = (j: unknown, re: RegExp): void => expect(() => decodeStateLike(like, j as never, file, 'ck/opt.safetensors')).toThrow(re);
  bad({ a: [null, { norm: null }] }, /ck\/opt\.safetensors: optimizer state at 'a': expected an array of 3, found one of 2/);
  bad({ a: [null, { norm: null }, {}] }, /at 'a\.2\.w': missing/);
  bad({ a: [null, { norm: null }, { w: { step: '2', m: null, v: null } }] }, /at 'a\.2\.w\.step': expected number/);
  bad({ a: [null, { norm: null, extra: 1 }, { w: { step: 2, m: null, v: null } }] }, /at 'a\.1': unexpected key\(s\) extra/);
  const sized = { t: tensor(new Float32Array([0, 0, 0]), [3]) };
  expect(() => decodeStateLike(sized, { t: { $tensor: 'a.2.w.m' } }, file, 'ck/opt.safetensors')).toThrow(/at 't': shape \[2\], expected \[3\]/);
  dispose(sized);
  expect(numTensors()).toBe(before);
});
