/** @file Image-folder datasets (one class per top-level sub-folder, sorted), on disk or inside a tar(.gz) archive. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Dataset } from './dataset.js';
import { DataError, decodeImage } from './image.js';
import { readTar } from './tar.js';

/** Options of {@link imageFolderDataset}, {@link openImageFolder} and {@link openTarImageFolder}. @category io */
export interface ImageFolderOptions {
  /** File extensions that count as images (case-insensitive); default `.png`, `.jpg`, `.jpeg`. */
  readonly extensions?: readonly string[];
  /**
   * The class list to use (label = index). Default: the sorted names of the top-level folders
   * that contain at least one image. A folder not in a given list is an error.
   */
  readonly classes?: readonly string[];
}

/** A file of an image folder: its path relative to the root (`/`-separated) and how to read it. @category io */
export interface FolderFile {
  readonly path: string;
  /** Full name for messages (`dir/a/b.png`, `archive.tar.gz:root/a/b.png`). */
  readonly source: string;
  /** Reads the file's bytes. */
  readonly read: () => Uint8Array;
}

const DEFAULT_EXT = ['.png', '.jpg', '.jpeg'];
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Builds an image-folder {@link Dataset} from a file list: every image under `<class>/…`
 * (any depth below the class folder), sorted by path; label = index of the class name in the
 * sorted list of top-level folders (the official `preprocessing.py` / torchvision `ImageFolder`
 * rule). Files directly in the root and non-image files are ignored.
 * @category io
 */
export function imageFolderDataset(name: string, files: readonly FolderFile[], opts: ImageFolderOptions = {}): Dataset {
  const exts = (opts.extensions ?? DEFAULT_EXT).map((e) => e.toLowerCase());
  const imgs = files
    .filter((f) => f.path.includes('/') && exts.some((e) => f.path.toLowerCase().endsWith(e)))
    .sort((a, b) => byCodePoint(a.path, b.path));
  if (imgs.length === 0)
    throw new DataError(name, `no images found (looked for ${exts.join(', ')} files inside class sub-folders)`);
  const found = [...new Set(imgs.map((f) => f.path.slice(0, f.path.indexOf('/'))))].sort(byCodePoint);
  const classes = opts.classes ?? found;
  const index = new Map(classes.map((c, i) => [c, i] as const));
  const labels = imgs.map((f) => {
    const c = f.path.slice(0, f.path.indexOf('/'));
    const l = index.get(c);
    if (l === undefined) throw new DataError(f.source, `class folder '${c}' is not in the given class list [${classes.join(', ')}]`);
    return l;
  });
  const at = (i: number): FolderFile => {
    const f = imgs[i];
    if (f === undefined) throw new RangeError(`${name}: index ${i} out of range [0, ${imgs.length})`);
    return f;
  };
  return {
    name,
    length: imgs.length,
    classes,
    source: (i) => at(i).source,
    label: (i) => {
      at(i);
      return labels[i] as number;
    },
    load: (i) => {
      const f = at(i);
      let bytes: Uint8Array;
      try {
        bytes = f.read();
      } catch (e) {
        throw new DataError(f.source, `cannot read (${(e as Error).message})`);
      }
      return decodeImage(bytes, f.source);
    },
  };
}

/**
 * An image-folder dataset on disk: `root/<class>/**\/*.{png,jpg,jpeg}`. Files are read lazily.
 * @example
 * const ds = openImageFolder('imagenet/train')   // ds.classes = sorted wnids
 * @category io
 */
export function openImageFolder(root: string, opts: ImageFolderOptions = {}): Dataset {
  let st;
  try {
    st = statSync(root);
  } catch (e) {
    throw new DataError(root, `cannot open the image folder (${(e as Error).message})`);
  }
  if (!st.isDirectory()) throw new DataError(root, 'not a directory');
  const all = readdirSync(root, { recursive: true, withFileTypes: true });
  const isFile = (d: (typeof all)[number]): boolean => {
    if (d.isFile()) return true;
    if (!d.isSymbolicLink()) return false;
    try {
      return statSync(join(d.parentPath, d.name)).isFile(); // follow links, as torchvision does
    } catch {
      return false;
    }
  };
  const files: FolderFile[] = all
    .filter(isFile)
    .map((d) => {
      const full = join(d.parentPath, d.name);
      return { path: relative(root, full).split(sep).join('/'), source: full, read: () => new Uint8Array(readFileSync(full)) };
    });
  return imageFolderDataset(root, files, opts);
}

/** Options of {@link openTarImageFolder}. @category io */
export interface TarImageFolderOptions extends ImageFolderOptions {
  /** The folder inside the archive that holds the class folders, e.g. `test` or `tiny-imagenet-10/val`. Default: the archive root. */
  readonly root?: string;
}

/**
 * An image-folder dataset inside a `.tar`/`.tar.gz` archive (decompressed into memory once; images
 * decoded lazily). Members are named `archive:member` in errors.
 * @example
 * const test = openTarImageFolder('cifar10/test.tar.gz', { root: 'test' })   // 10 classes, 10,000 images
 * @category io
 */
export function openTarImageFolder(archive: string, opts: TarImageFolderOptions = {}): Dataset {
  const root = (opts.root ?? '').replace(/^\.?\/+/, '').replace(/\/+$/, '');
  const prefix = root === '' ? '' : `${root}/`;
  const files: FolderFile[] = readTar(archive)
    .filter((e) => e.type === 'file' && e.path.startsWith(prefix))
    .map((e) => ({ path: e.path.slice(prefix.length), source: `${archive}:${e.path}`, read: () => e.data }));
  if (files.length === 0) throw new DataError(archive, `no files under '${root}' in the archive`);
  return imageFolderDataset(root === '' ? archive : `${archive}:${root}`, files, opts);
}
