import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  readSafetensors, SafetensorsError, safeDtypes, writeSafetensors,
  type SafeDtype, type SafeWriteEntry,
} from '../../src/io/safetensors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/tensors.js';
import { goldenDir, haveGolden } from '../helpers/golden.js';

const tmp = mkdtempSync(join(tmpdir(), 'repae-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Reference decoders written independently of the module under test. */
const halfToNumber = (h: number): number => {
  const s = h >> 15 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
  return e === 0 ? s * m * 2 ** -24 : e === 31 ? (m ? NaN : s * Infinity) : s * (1024 + m) * 2 ** (e - 25);
};
const bf16ToNumber = (h: number): number => new Float32Array(new Uint32Array([h << 16]).buffer)[0] as number;

/** Values exactly representable in each dtype (fast-check arbitraries). */
const valueArb: Record<SafeDtype, fc.Arbitrary<number>> = {
  F64: fc.double(),
  F32: fc.float(),
  F16: fc.integer({ min: 0, max: 0xffff }).map(halfToNumber),
  BF16: fc.integer({ min: 0, max: 0xffff }).map(bf16ToNumber),
  I64: fc.maxSafeInteger(),
  I32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  I16: fc.integer({ min: -32768, max: 32767 }),
  I8: fc.integer({ min: -128, max: 127 }),
  U8: fc.integer({ min: 0, max: 255 }),
  BOOL: fc.integer({ min: 0, max: 1 }),
};

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 }); // [] = 0-d
const entryArb: fc.Arbitrary<SafeWriteEntry> = fc
  .tuple(fc.constantFrom(...safeDtypes), shapeArb)
  .chain(([dtype, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.array(valueArb[dtype], { minLength: n, maxLength: n }).map((data) => ({ dtype, shape, data }));
  });
const keyArb = fc.string({ minLength: 0, maxLength: 12, unit: 'grapheme' }).filter((k) => k !== '__metadata__');
const fileArb = fc.record({
  entries: fc.uniqueArray(fc.tuple(keyArb, entryArb), { maxLength: 6, selector: ([k]) => k }),
  metadata: fc.option(fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }), { nil: undefined }),
});

const sameValues = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  a.length === b.length && Array.from(a).every((x, i) => Object.is(x, b[i]) || (Number.isNaN(x) && Number.isNaN(b[i] as number)));

describe('safetensors round trip', () => {
  it('property: write → read gives back every dtype, shape (incl. 0-d and empty), key and metadata', () => {
    fc.assert(
      fc.property(fileArb, ({ entries, metadata }) => {
        const bytes = writeSafetensors(new Map(entries), metadata);
        expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0); // data section 8-aligned
        const back = readSafetensors(bytes, 'prop.safetensors');
        expect([...back.entries.keys()]).toEqual(entries.map(([k]) => k));
        for (const [k, e] of entries) {
          const r = back.entries.get(k)!;
          expect(r.dtype).toBe(e.dtype);
          expect(r.shape).toEqual(e.shape);
          expect(sameValues(r.data, e.data)).toBe(true);
        }
        expect(back.metadata).toEqual(metadata ?? {});
        // idempotent: re-encoding what was read gives identical bytes
        expect(writeSafetensors(back.entries, metadata)).toEqual(bytes);
      }),
      { seed: 42, numRuns: 200 },
    );
  });

  it('property: file round trip (atomic write, entry-by-entry read) equals the in-memory codec', () => {
    fc.assert(
      fc.property(fileArb, ({ entries, metadata }) => {
        const p = join(tmp, 'prop.safetensors');
        const size = writeSafetensorsFile(p, new Map(entries), metadata);
        const bytes = new Uint8Array(readFileSync(p));
        expect(bytes.byteLength).toBe(size);
        expect(bytes).toEqual(writeSafetensors(new Map(entries), metadata));
        const back = readSafetensorsFile(p);
        for (const [k, e] of entries) expect(sameValues(back.entries.get(k)!.data, e.data)).toBe(true);
      }),
      { seed: 7, numRuns: 60 },
    );
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('F16 and BF16: every one of the 65536 bit patterns survives decode → encode', () => {
    for (const [dtype, dec] of [['F16', halfToNumber], ['BF16', bf16ToNumber]] as const) {
      const vals = Array.from({ length: 65536 }, (_, h) => dec(h));
      const bytes = writeSafetensors({ x: { dtype, shape: [65536], data: vals } });
      const raw = new Uint16Array(bytes.slice(bytes.byteLength - 131072).buffer);
      for (let h = 0; h < 65536; h++) if (!Number.isNaN(vals[h])) expect(raw[h], `${dtype} 0x${h.toString(16)}`).toBe(h);
      expect(sameValues(readSafetensors(bytes).entries.get('x')!.data, vals)).toBe(true);
    }
  });

  it('F16/BF16 round to nearest, ties to even, without double rounding; overflow to ±inf', () => {
    const f16 = (x: number): number => readSafetensors(writeSafetensors({ x: { dtype: 'F16', shape: [], data: [x] } })).entries.get('x')!.data[0] as number;
    const bf16 = (x: number): number => readSafetensors(writeSafetensors({ x: { dtype: 'BF16', shape: [], data: [x] } })).entries.get('x')!.data[0] as number;
    expect(f16(1 + 2 ** -11)).toBe(1); // tie → even
    expect(f16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9); // tie → even (up)
    expect(f16(1 + 2 ** -11 + 2 ** -40)).toBe(1 + 2 ** -10); // just above the tie
    expect(f16(2 ** -25)).toBe(0); // subnormal tie → even (0)
    expect(f16(2 ** -25 + 2 ** -60)).toBe(2 ** -24); // float32 would have rounded this to the tie first
    expect(f16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(f16(65519)).toBe(65504);
    expect(f16(65520)).toBe(Infinity);
    expect(f16(-1e9)).toBe(-Infinity);
    expect(Object.is(f16(-0), -0)).toBe(true);
    expect(f16(NaN)).toBeNaN();
    expect(bf16(1 + 2 ** -8)).toBe(1);
    expect(bf16(1 + 3 * 2 ** -8)).toBe(1 + 2 ** -6);
    expect(bf16(3.39e38)).toBe((2 - 2 ** -7) * 2 ** 127); // largest finite BF16, below the tie
    expect(bf16(3.4e38)).toBe(Infinity);
    expect(bf16(2 ** -133)).toBe(2 ** -133); // smallest BF16 subnormal
  });

  it('rejects values an integer dtype cannot hold instead of wrapping them', () => {
    const bad: [SafeDtype, number][] = [['U8', 256], ['U8', -1], ['I8', 128], ['I16', -32769], ['I32', 2 ** 31], ['I64', 2 ** 63], ['BOOL', 2], ['I32', 0.5], ['I64', NaN]];
    for (const [dtype, v] of bad)
      expect(() => writeSafetensors({ 'blocks.0.w': { dtype, shape: [2], data: [0, v] } }), `${dtype} ${v}`)
        .toThrow(/key 'blocks\.0\.w': value .* at flat index 1 is not representable as/);
    expect(() => writeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } })).toThrow(/key 'w': 3 values for shape \[2, 2\] \(expected 4\)/);
  });
});

/** A file from a raw header (object or text) and a data section of `dataLen` bytes. */
function raw(header: unknown, dataLen: number): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + h.byteLength + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.byteLength), true);
  out.set(h, 8);
  return out;
}

function expectError(bytes: Uint8Array, re: RegExp, key?: string): void {
  const file = 'model.safetensors';
  let err: unknown;
  try { readSafetensors(bytes, file); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(SafetensorsError);
  const e = err as SafetensorsError;
  expect(e.name).toBe('SafetensorsError');
  expect(e.message).toMatch(/^model\.safetensors: /);
  expect(e.message).toMatch(re);
  expect(e.file).toBe(file);
  expect(e.key).toBe(key);
  if (key !== undefined) expect(e.message).toContain(`key '${key}'`);
  // the same bytes on disk: the error names the path (and the same key)
  const p = join(tmp, 'bad.safetensors');
  writeFileSync(p, bytes);
  let err2: unknown;
  try { readSafetensorsFile(p); } catch (x) { err2 = x; }
  expect(err2).toBeInstanceOf(SafetensorsError);
  expect((err2 as SafetensorsError).message.startsWith(`${p}: `)).toBe(true);
  expect((err2 as SafetensorsError).key).toBe(key);
}

describe('safetensors errors name the file and the key', () => {
  const good = writeSafetensors(new Map<string, SafeWriteEntry>([
    ['pos_embed', { dtype: 'F32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }],
    ['y_embedder.embedding_table.weight', { dtype: 'F16', shape: [4], data: [1, 2, 3, 4] }],
  ]));

  it('truncated file', () => {
    expectError(good.subarray(0, 5), /truncated: 5 bytes, need at least 8/);
    expectError(good.subarray(0, 20), /truncated or corrupt: header length \d+ exceeds/);
    expectError(good.subarray(0, good.byteLength - 3), /data_offsets \[24, 32\] out of range \(data section is 29 bytes; file truncated\?\)/, 'y_embedder.embedding_table.weight');
  });

  it('corrupt header', () => {
    const broken = good.slice();
    broken[8] = 0x78; // 'x' instead of the opening brace
    expectError(broken, /corrupt header: /);
    expectError(raw('[1, 2]', 0), /corrupt header: not a JSON object/);
    expectError(raw('null', 0), /corrupt header: not a JSON object/);
    const badUtf8 = raw('{"a"}', 0); badUtf8[10] = 0xff;
    expectError(badUtf8, /corrupt header/);
    expectError(raw({ __metadata__: { format: 1 } }, 0), /__metadata__\['format'\] is not a string/);
    expectError(raw({ w: [1, 2] }, 0), /entry is not an object/, 'w');
    expectError(raw({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, 0), /bad shape \[-1\]/, 'w');
    expectError(raw({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), /bad data_offsets \[0\]/, 'w');
    expectError(raw({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4), /4 bytes for F32 shape \[2\] \(expected 8\)/, 'w');
  });

  it('offsets out of range', () => {
    expectError(raw({ 'final_layer.linear.bias': { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /data_offsets \[0, 16\] out of range/, 'final_layer.linear.bias');
    expectError(raw({ b: { dtype: 'U8', shape: [0], data_offsets: [5, 4] } }, 8), /data_offsets \[5, 4\] out of range/, 'b');
  });

  it('overlapping offsets', () => {
    expectError(
      raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
      /data_offsets \[4, 12\] overlap key 'a' \[0, 8\]/, 'b',
    );
    // empty tensors may sit anywhere (Python writers list them in any order)
    const ok = raw({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, e: { dtype: 'F32', shape: [0], data_offsets: [0, 0] }, f: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] } }, 8);
    expect([...readSafetensors(ok).entries.keys()]).toEqual(['e', 'a', 'f']);
  });

  it('unknown dtype (including prototype names)', () => {
    for (const dtype of ['F8_E4M3', 'float32', 'constructor', 'toString', 7])
      expectError(raw({ 'blocks.3.attn.qkv.weight': { dtype, shape: [1], data_offsets: [0, 1] } }, 1), /unknown dtype .* \(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL\)/, 'blocks.3.attn.qkv.weight');
  });

  it('a requested key that is missing is named', () => {
    const p = join(tmp, 'good.safetensors');
    writeFileSync(p, good);
    expect(() => readSafetensorsFile(p, { keys: ['pos_embed', 'nope'] })).toThrow(`${p}: has no key 'nope'`);
    expect([...readSafetensorsFile(p, { keys: ['pos_embed'] }).entries.keys()]).toEqual(['pos_embed']);
  });

  it('entries come back in data order even when keys look like integers', () => {
    const bytes = writeSafetensors(new Map<string, SafeWriteEntry>([['b', { dtype: 'U8', shape: [1], data: [1] }], ['10', { dtype: 'U8', shape: [1], data: [2] }], ['2', { dtype: 'U8', shape: [1], data: [3] }]]));
    expect([...readSafetensors(bytes).entries.keys()]).toEqual(['b', '10', '2']);
  });
});

describe.skipIf(!haveGolden)('safetensors: the shared golden fixtures (written by Python safetensors)', () => {
  it('read identically in memory and from disk, and re-encode losslessly', () => {
    for (const f of readdirSync(goldenDir).filter((x) => x.endsWith('.safetensors'))) {
      const p = join(goldenDir, f);
      const mem = readSafetensors(new Uint8Array(readFileSync(p)), f);
      const disk = readSafetensorsFile(p);
      expect([...disk.entries.keys()]).toEqual([...mem.entries.keys()]);
      const again = readSafetensors(writeSafetensors(mem.entries, mem.metadata));
      for (const [k, e] of mem.entries) {
        expect(sameValues(disk.entries.get(k)!.data, e.data), `${f} ${k}`).toBe(true);
        expect(sameValues(again.entries.get(k)!.data, e.data), `${f} ${k}`).toBe(true);
      }
    }
  });
});
