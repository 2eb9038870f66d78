/** @file The latent PCA images of a batch (`metrics/pca-image.ts`) as one PNG grid. */
import { latentPcaImages, type PcaImageOptions, type RgbImage } from '../metrics/pca-image.js';
import type { MetricInput } from '../metrics/host.js';
import { encodePng, gridImage, type GridOptions } from './png.js';

/**
 * A PNG of the latent PCA images of a batch, tiled as a grid (see {@link latentPcaImages} and
 * {@link gridImage}).
 * @category metrics
 */
export async function latentPcaPng(z: MetricInput, opts: PcaImageOptions & GridOptions = {}): Promise<Uint8Array> {
  const imgs = await latentPcaImages(z, opts);
  const first = imgs[0] as RgbImage;
  const data = new Uint8Array(imgs.length * first.data.length);
  imgs.forEach((im, i) => data.set(im.data, i * first.data.length));
  return encodePng(gridImage({ data, shape: [imgs.length, first.height, first.width, 3] }, opts));
}
