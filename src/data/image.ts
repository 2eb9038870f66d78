/** @file Host-side RGB images (uint8, HWC) and decoding of PNG / JPEG bytes with errors that name the file. */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/**
 * A decoded image on the host: `data` holds `height·width·3` bytes, RGB, row-major (HWC), the
 * layout of PIL's `np.array(img.convert('RGB'))`.
 * @category io
 */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/**
 * A data-loading error that names the file (or archive member) at fault.
 * @category io
 */
export class DataError extends Error {
  override readonly name = 'DataError';
  /** The file, or `archive.tar.gz:member`, that could not be used. */
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.file = file;
  }
}

/** The image formats {@link decodeImage} reads. @category io */
export type ImageFormat = 'png' | 'jpeg';

/** Detects PNG / JPEG from the magic bytes (not the file name); `undefined` for anything else. @category io */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/**
 * Decodes PNG or JPEG bytes to an {@link RgbImage} (alpha dropped, grayscale and palette images
 * expanded to RGB, 16-bit PNG reduced to 8 bits: PIL's `convert('RGB')`). Truncated or corrupt
 * files throw a {@link DataError} naming `file`.
 * @example
 * const img = decodeImage(readFileSync('cat.jpg'), 'cat.jpg')   // { width, height, data }
 * @category io
 */
export function decodeImage(bytes: Uint8Array, file: string): RgbImage {
  const fmt = sniffFormat(bytes);
  if (fmt === undefined) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new DataError(file, `not a PNG or JPEG file (${bytes.length} bytes, starts with ${head || 'nothing'})`);
  }
  try {
    if (fmt === 'png') {
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      const n = png.width * png.height;
      const out = new Uint8Array(n * 3);
      for (let i = 0; i < n; i++) {
        out[3 * i] = png.data[4 * i] as number;
        out[3 * i + 1] = png.data[4 * i + 1] as number;
        out[3 * i + 2] = png.data[4 * i + 2] as number;
      }
      return { width: png.width, height: png.height, data: out };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, tolerantDecoding: false, maxMemoryUsageInMB: 2048 });
    if (img.width === 0 || img.height === 0) throw new Error('empty image');
    return { width: img.width, height: img.height, data: img.data };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `cannot decode ${fmt.toUpperCase()} (${e instanceof Error ? e.message : String(e)})`);
  }
}
