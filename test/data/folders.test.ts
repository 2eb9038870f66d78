import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { loader } from '../../src/data/dataset.js';
import { openImageFolder, openTarImageFolder } from '../../src/data/image-folder.js';
import { DataError, decodeImage, type RgbImage } from '../../src/data/image.js';
import { parseTar, readTar } from '../../src/data/tar.js';
import { writeTar } from './tar-writer.js';

const solid = (w: number, h: number, rgb: readonly [number, number, number]): RgbImage => {
  const d = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) d.set(rgb, 3 * i);
  return { width: w, height: h, data: d };
};
const pngBytes = (img: RgbImage, gray = false): Uint8Array => {
  const png = new PNG({ width: img.width, height: img.height, ...(gray ? { colorType: 0, inputColorType: 2 } : {}) });
  for (let i = 0; i < img.width * img.height; i++) png.data.set([...img.data.subarray(3 * i, 3 * i + 3), 255], 4 * i);
  return new Uint8Array(PNG.sync.write(png, gray ? { colorType: 0, inputColorType: 6 } : {}));
};
const jpegBytes = (img: RgbImage): Uint8Array => {
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let i = 0; i < img.width * img.height; i++) rgba.set([...img.data.subarray(3 * i, 3 * i + 3), 255], 4 * i);
  return new Uint8Array(jpeg.encode({ width: img.width, height: img.height, data: rgba }, 95).data);
};

describe('decodeImage', () => {
  it('decodes PNG (RGB and grayscale) and JPEG to RGB', () => {
    const a = decodeImage(pngBytes(solid(3, 2, [10, 200, 30])), 'a.png');
    expect([a.width, a.height]).toEqual([3, 2]);
    expect(Array.from(a.data.subarray(0, 6))).toEqual([10, 200, 30, 10, 200, 30]);
    const g = decodeImage(pngBytes(solid(2, 2, [90, 90, 90]), true), 'g.png');
    expect(g.data.length).toBe(12);
    expect(Array.from(g.data.subarray(0, 3))).toEqual([90, 90, 90]);
    const j = decodeImage(jpegBytes(solid(16, 8, [200, 40, 40])), 'j.jpg');
    expect([j.width, j.height]).toEqual([16, 8]);
    expect(Math.abs((j.data[0] as number) - 200)).toBeLessThan(6);
  });
  it('names the file for unknown formats and corrupt or truncated data', () => {
    expect(() => decodeImage(new TextEncoder().encode('hello'), 'notes.png')).toThrow(/notes\.png: not a PNG or JPEG/);
    const p = pngBytes(solid(8, 8, [1, 2, 3]));
    expect(() => decodeImage(p.subarray(0, 40), 'cut.png')).toThrow(DataError);
    expect(() => decodeImage(p.subarray(0, 40), 'cut.png')).toThrow(/cut\.png: cannot decode PNG/);
    const j = jpegBytes(solid(16, 16, [9, 9, 9]));
    expect(() => decodeImage(j.subarray(0, 30), 'cut.jpg')).toThrow(/cut\.jpg: cannot decode JPEG/);
  });
});

describe('parseTar', () => {
  const f = (s: string): Uint8Array => new TextEncoder().encode(s);
  const long = 'deep/'.repeat(25) + 'file.txt';
  it('reads ustar members, directories, GNU long names, pax paths and ustar prefixes', () => {
    const tar = writeTar([
      { path: 'root', dir: true },
      { path: 'root/a.txt', data: f('alpha') },
      { path: long, data: f('gnu'), long: 'gnu' },
      { path: `x/${long}`, data: f('pax'), long: 'pax' },
      { path: `${'p'.repeat(120)}/short.txt`, data: f('prefix'), long: 'prefix' },
      { path: 'root/empty.bin', data: new Uint8Array(0) },
    ]);
    const es = parseTar(tar, 'mem.tar');
    expect(es.map((e) => [e.path, e.type])).toEqual([
      ['root', 'directory'],
      ['root/a.txt', 'file'],
      [long, 'file'],
      [`x/${long}`, 'file'],
      [`${'p'.repeat(120)}/short.txt`, 'file'],
      ['root/empty.bin', 'file'],
    ]);
    expect(new TextDecoder().decode(es[1]?.data)).toBe('alpha');
    expect(new TextDecoder().decode(es[2]?.data)).toBe('gnu');
    expect(new TextDecoder().decode(es[3]?.data)).toBe('pax');
    expect(es[5]?.size).toBe(0);
  });
  it('rejects a corrupt header and a truncated archive, naming the archive and offset', () => {
    const tar = writeTar([{ path: 'a.txt', data: f('x'.repeat(600)) }, { path: 'b.txt', data: f('y') }]);
    const bad = tar.slice();
    bad[1536 + 10] = 0x41; // inside the second header's name
    expect(() => parseTar(bad, 'bad.tar')).toThrow(/bad\.tar: bad header checksum .*header at byte 1536/);
    expect(() => parseTar(tar.subarray(0, 700), 'cut.tar')).toThrow(/cut\.tar: member 'a\.txt' needs 600 bytes .*truncated/);
  });
});

describe('image folders on disk and in tar.gz', () => {
  const dir = mkdtempSync(join(tmpdir(), 'repae-folder-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const files: [string, Uint8Array][] = [
    ['zebra/img1.png', pngBytes(solid(4, 4, [255, 255, 255]))],
    ['zebra/sub/img0.JPG', jpegBytes(solid(4, 4, [0, 0, 0]))],
    ['apple/b.png', pngBytes(solid(4, 4, [255, 0, 0]))],
    ['apple/a.jpeg', jpegBytes(solid(4, 4, [0, 255, 0]))],
    ['apple/notes.txt', new TextEncoder().encode('ignored')],
    ['mango/broken.png', new TextEncoder().encode('not an image')],
    ['root-level.png', pngBytes(solid(4, 4, [1, 1, 1]))],
  ];
  for (const [p, b] of files) {
    mkdirSync(join(dir, 'data', p, '..'), { recursive: true });
    writeFileSync(join(dir, 'data', p), b);
  }
  const tgz = join(dir, 'data.tar.gz');
  writeFileSync(tgz, gzipSync(writeTar(files.map(([p, b]) => ({ path: `top/${p}`, data: b })))));

  for (const [kind, open] of [
    ['disk', () => openImageFolder(join(dir, 'data'))],
    ['tar.gz', () => openTarImageFolder(tgz, { root: 'top' })],
  ] as const) {
    it(`${kind}: sorted classes, sorted files at any depth, non-images and root files ignored`, () => {
      const ds = open();
      expect(ds.classes).toEqual(['apple', 'mango', 'zebra']);
      expect(ds.length).toBe(5);
      const srcs = Array.from({ length: ds.length }, (_, i) => ds.source(i).replace(/^.*?(apple|mango|zebra)/, '$1'));
      expect(srcs).toEqual(['apple/a.jpeg', 'apple/b.png', 'mango/broken.png', 'zebra/img1.png', 'zebra/sub/img0.JPG']);
      expect(Array.from({ length: ds.length }, (_, i) => ds.label(i))).toEqual([0, 0, 1, 2, 2]);
      expect(Array.from(ds.load(1).data.subarray(0, 3))).toEqual([255, 0, 0]);
      expect(() => ds.load(2)).toThrow(/broken\.png: not a PNG or JPEG/);
    });
    it(`${kind}: loader fails naming the file, or skips and reports it`, () => {
      const ds = open();
      expect(() => [...loader(ds, { batchSize: 5 }).hostBatches(0)]).toThrow(/mango\/broken\.png/);
      const seen: string[] = [];
      const dl = loader(ds, { batchSize: 2, onError: 'skip', onSkip: (e) => seen.push(e.file) });
      const bs = [...dl.hostBatches(0)];
      expect(bs.map((b) => b.indices)).toEqual([[0, 1], [3, 4]]);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/mango\/broken\.png$/);
      expect(dl.skipped.map((e) => e.file)).toEqual(seen);
    });
  }

  it('imposes a given class list and rejects unknown folders', () => {
    const ds = openImageFolder(join(dir, 'data'), { classes: ['zebra', 'mango', 'apple'] });
    expect(ds.label(0)).toBe(2);
    expect(() => openImageFolder(join(dir, 'data'), { classes: ['apple'] })).toThrow(/class folder 'mango' is not in the given class list/);
  });
  it('follows symbolic links to image files', () => {
    const d = join(dir, 'links');
    mkdirSync(join(d, 'cls'), { recursive: true });
    writeFileSync(join(dir, 'target.png'), pngBytes(solid(2, 2, [5, 6, 7])));
    symlinkSync(join(dir, 'target.png'), join(d, 'cls', 'linked.png'));
    const ds = openImageFolder(d);
    expect(ds.length).toBe(1);
    expect(Array.from(ds.load(0).data.subarray(0, 3))).toEqual([5, 6, 7]);
  });
  it('names a missing folder or archive', () => {
    expect(() => openImageFolder(join(dir, 'nope'))).toThrow(/nope: cannot open the image folder/);
    expect(() => readTar(join(dir, 'nope.tar.gz'))).toThrow(/nope\.tar\.gz: cannot read/);
    writeFileSync(join(dir, 'bad.tar.gz'), Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]));
    expect(() => readTar(join(dir, 'bad.tar.gz'))).toThrow(/bad\.tar\.gz: corrupt gzip stream/);
  });
});
