/** @file Images on the page: files → square RGB pixels → model inputs, and RGB pixels → canvases. */

/** RGB uint8 pixels, row-major HWC. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Reads RGB pixels from RGBA canvas data (alpha dropped). */
function rgbOf(rgba: Uint8ClampedArray, width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[3 * i] = rgba[4 * i] as number;
    data[3 * i + 1] = rgba[4 * i + 1] as number;
    data[3 * i + 2] = rgba[4 * i + 2] as number;
  }
  return { width, height, data };
}

/**
 * Decodes an image file and returns its centre square scaled to `size × size` (an image that is
 * already `size × size` is copied pixel for pixel, without colour conversion), plus its original size.
 */
export async function loadSquareImage(file: Blob, size: number): Promise<{ readonly image: RgbImage; readonly original: string }> {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    const side = Math.min(bitmap.width, bitmap.height);
    const canvas = new OffscreenCanvas(size, size);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (ctx === null) throw new Error('this browser has no 2D canvas');
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, size, size);
    return { image: rgbOf(ctx.getImageData(0, 0, size, size).data, size, size), original: `${bitmap.width}×${bitmap.height}` };
  } finally {
    bitmap.close();
  }
}

/** A colourful built-in test pattern (gradients, discs and stripes) of `size × size`. */
export function testPattern(size: number): RgbImage {
  const canvas = new OffscreenCanvas(size, size);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (ctx === null) throw new Error('this browser has no 2D canvas');
  const g = ctx.createLinearGradient(0, 0, size, size);
  g.addColorStop(0, '#1d4e89');
  g.addColorStop(0.5, '#f2a541');
  g.addColorStop(1, '#d1495b');
  ctx.fillStyle = g;
  ctx.fillRect(0, 0, size, size);
  for (let i = 0; i < 6; i++) {
    ctx.fillStyle = i % 2 === 0 ? 'rgba(255,255,255,0.85)' : 'rgba(0,0,0,0.7)';
    ctx.fillRect((i * size) / 12, size * 0.72, size / 24, size * 0.28);
  }
  ctx.fillStyle = '#2bb673';
  ctx.beginPath();
  ctx.arc(size * 0.68, size * 0.32, size * 0.2, 0, 2 * Math.PI);
  ctx.fill();
  ctx.fillStyle = '#ffffff';
  ctx.beginPath();
  ctx.arc(size * 0.3, size * 0.38, size * 0.12, 0, 2 * Math.PI);
  ctx.fill();
  return rgbOf(ctx.getImageData(0, 0, size, size).data, size, size);
}

/** Pixels as the VAE's input values in [−1, 1] (`x / 127.5 − 1`), HWC. */
export const toModelInput = (img: RgbImage): Float32Array => Float32Array.from(img.data, (v) => v / 127.5 - 1);

/** Draws RGB pixels into a canvas (resizing the canvas to the image). */
export function drawRgb(canvas: HTMLCanvasElement, img: RgbImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('this browser has no 2D canvas');
  const rgba = new ImageData(img.width, img.height);
  for (let i = 0; i < img.width * img.height; i++) {
    rgba.data[4 * i] = img.data[3 * i] as number;
    rgba.data[4 * i + 1] = img.data[3 * i + 1] as number;
    rgba.data[4 * i + 2] = img.data[3 * i + 2] as number;
    rgba.data[4 * i + 3] = 255;
  }
  ctx.putImageData(rgba, 0, 0);
}

/** PSNR in dB between two uint8 images of the same size. */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += ((a[i] as number) - (b[i] as number)) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
