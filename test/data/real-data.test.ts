/** Loaders on the developers' real data (../shared/data): CIFAR-10 PNG strips and tar.gz, Tiny-ImageNet-10. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { key } from '../../src/core/rng.js';
import { cifar10Classes, cifarPngDataset, parseLabelsJs } from '../../src/data/cifar-png.js';
import { loader, mapDataset } from '../../src/data/dataset.js';
import { openTarImageFolder } from '../../src/data/image-folder.js';
import { centerCrop } from '../../src/data/preprocess.js';
import { sharedData, sharedDataOr } from './shared-data.js';

const run = sharedDataOr('real-data loaders');
const cifarDir = join(sharedData, 'cifar10-subset-png');

describe.runIf(run)('CIFAR-10 PNG strips', () => {
  const labelsJs = join(cifarDir, 'cifar10_labels.js');
  it('parses labels.js and maps batch_50 to labels 50000…50999', () => {
    const all = parseLabelsJs(readFileSync(labelsJs, 'utf8'), labelsJs);
    expect(all).toHaveLength(51_000);
    const ds = cifarPngDataset({ files: [join(cifarDir, 'cifar10_batch_50.png')], labels: labelsJs });
    expect(ds.length).toBe(1000);
    expect(ds.classes).toEqual(cifar10Classes);
    expect(Array.from({ length: 1000 }, (_, i) => ds.label(i))).toEqual(all.slice(50_000, 51_000));
    const img = ds.load(999);
    expect([img.width, img.height, img.data.length]).toEqual([32, 32, 3072]);
    expect(ds.source(3)).toMatch(/cifar10_batch_50\.png#row3$/);
  });
  it('spans several strips with per-file label offsets', () => {
    const ds = cifarPngDataset({ files: [0, 1].map((k) => join(cifarDir, `cifar10_batch_${k}.png`)), labels: labelsJs });
    expect(ds.length).toBe(2000);
    const all = parseLabelsJs(readFileSync(labelsJs, 'utf8'));
    expect([ds.label(0), ds.label(1500)]).toEqual([all[0], all[1500]]);
    expect(ds.source(1500)).toMatch(/cifar10_batch_1\.png#row500$/);
  });
  it('names the file when labels are too few or the offset cannot be inferred', () => {
    expect(() => cifarPngDataset({ files: [join(cifarDir, 'cifar10_batch_50.png')], labels: [1, 2, 3] })).toThrow(
      /cifar10_batch_50\.png: needs labels up to index 50999/,
    );
    expect(() => cifarPngDataset({ files: [labelsJs], labels: [] })).toThrow(/cifar10_labels\.js: not a PNG file/);
  });
});

describe.runIf(run)('CIFAR-10 test.tar.gz', () => {
  const tgz = join(sharedData, 'cifar10', 'test.tar.gz');
  it('has 10 sorted classes of 1000 JPEGs that agree with the lossless PNG strip', () => {
    const ds = openTarImageFolder(tgz, { root: 'test' });
    expect(ds.length).toBe(10_000);
    expect(ds.classes).toEqual(cifar10Classes); // sorted folder names = CIFAR label order
    const counts = new Array(10).fill(0);
    for (let i = 0; i < ds.length; i++) counts[ds.label(i)]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    // PNG row k (label c) is the j-th test image of class c → test/<c>/<jjjj>.jpg (lossy, quality 75)
    const png = cifarPngDataset({ files: [join(cifarDir, 'cifar10_batch_50.png')], labels: join(cifarDir, 'cifar10_labels.js') });
    const seen = new Array(10).fill(0);
    const errs: number[] = [], wrong: number[] = [];
    for (let k = 0; k < 40; k++) {
      const c = png.label(k);
      const j = seen[c]++;
      const i = c * 1000 + j;
      expect(ds.source(i)).toMatch(new RegExp(`test/${cifar10Classes[c]}/${String(j).padStart(4, '0')}\\.jpg$`));
      const a = png.load(k).data, b = ds.load(i).data, o = ds.load((i + 1) % 10_000).data;
      let d = 0, e = 0;
      for (let p = 0; p < a.length; p++) {
        d += Math.abs((a[p] as number) - (b[p] as number));
        e += Math.abs((a[p] as number) - (o[p] as number));
      }
      errs.push(d / a.length);
      wrong.push(e / a.length);
    }
    // observed: matching pairs 2.8…10.9 grey levels mean abs error, neighbours 37…110
    expect(Math.max(...errs)).toBeLessThan(15);
    expect(Math.min(...wrong)).toBeGreaterThan(2 * Math.max(...errs));
  });
  it('batches with a key, deterministically', () => {
    const ds = openTarImageFolder(tgz, { root: 'test' });
    const a = loader(ds, { batchSize: 16, key: key(3) }).hostBatches(0).next().value;
    const b = loader(ds, { batchSize: 16, key: key(3) }).hostBatches(0).next().value;
    expect(a?.shape).toEqual([16, 32, 32, 3]);
    expect(a?.indices).toEqual(b?.indices);
    expect(a?.pixels).toEqual(b?.pixels);
  });
});

describe.runIf(run)('Tiny-ImageNet-10 tar.gz', () => {
  const tgz = join(sharedData, 'tiny-imagenet-10', 'tiny-imagenet-10.tar.gz');
  it('reads the val split (class per wnid folder), grayscale JPEGs as RGB, ADM-cropped to 32', () => {
    const ds = openTarImageFolder(tgz, { root: 'tiny-imagenet-10/val' });
    expect(ds.length).toBe(500);
    expect(ds.classes).toHaveLength(10);
    expect(ds.classes.every((c) => /^n\d{8}$/.test(c))).toBe(true);
    expect([...ds.classes].sort()).toEqual(ds.classes);
    let gray = 0;
    for (let i = 0; i < ds.length; i++) {
      const { width, height, data } = ds.load(i);
      expect([width, height]).toEqual([64, 64]);
      let g = true;
      for (let p = 0; p < data.length && g; p += 3) g = data[p] === data[p + 1] && data[p] === data[p + 2];
      if (g) gray++;
    }
    expect(gray).toBeGreaterThan(0);
    const small = mapDataset(ds, (x) => centerCrop(x, 32));
    const b = loader(small, { batchSize: 10, key: key(0) }).hostBatches(0).next().value;
    expect(b?.shape).toEqual([10, 32, 32, 3]);
  });
  it('reads the train split: images under <wnid>/images/, box files ignored', () => {
    const ds = openTarImageFolder(tgz, { root: 'tiny-imagenet-10/train' });
    expect(ds.length).toBe(5000);
    expect(ds.source(0)).toMatch(/train\/n\d{8}\/images\/n\d{8}_\d+\.JPEG$/);
  });
});
