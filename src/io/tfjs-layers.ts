/** @file Reads a tfjs layers-model directory (`model.json` + weight shards) without `@tensorflow/tfjs-layers`: topology and named weights. */

/** One layer of a Keras functional/sequential topology as stored in `model.json`. @category io */
export interface LayersModelLayer {
  /** Keras class, e.g. `Conv2D`, `DepthwiseConv2D`, `BatchNormalization`, `Activation`. */
  readonly className: string;
  /** Layer name, e.g. `conv_pw_11`. */
  readonly name: string;
  /** The layer's Keras config (strides, padding, filters, activation, epsilon, …). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Names of the layers feeding this one (first inbound node). */
  readonly inbound: readonly string[];
}

/** One weight from the manifest, dequantised to float32. @category io */
export interface LayersModelWeight {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A parsed layers model: its layers in file order and its weights by manifest name (`conv1/kernel`). @category io */
export interface LayersModel {
  /** Where it was read from (for error messages). */
  readonly source: string;
  readonly layers: readonly LayersModelLayer[];
  readonly weights: ReadonlyMap<string, LayersModelWeight>;
  /** `keras_version` from the topology, when present. */
  readonly kerasVersion?: string;
}

/** Error in a layers-model directory, naming the file and what is wrong. @category io */
export class LayersModelError extends Error {
  override readonly name = 'LayersModelError';
}

interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number; original_dtype?: string };
}
interface ManifestGroup {
  paths: string[];
  weights: ManifestWeight[];
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Parses `model.json` (text) and its weight shards. `readShard(path)` returns the bytes of a shard
 * named in the manifest (relative path). Supports float32/int32 weights, 8/16-bit affine
 * quantisation (`{min, scale}`) and float16 quantisation. Throws {@link LayersModelError} naming
 * the file for a malformed topology, a missing shard or a shard of the wrong size.
 * @category io
 */
export function parseLayersModel(modelJson: string, readShard: (path: string) => Uint8Array, source = 'model.json'): LayersModel {
  const fail = (msg: string): never => {
    throw new LayersModelError(`${source}: ${msg}`);
  };
  let root: unknown;
  try {
    root = JSON.parse(modelJson);
  } catch (e) {
    return fail(`not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(root)) return fail('not a JSON object');
  const topo = root['modelTopology'];
  if (!isObj(topo)) return fail('no "modelTopology" object (is this a tfjs layers model? graph models are not supported)');
  const mc = isObj(topo['model_config']) ? topo['model_config'] : topo;
  const cfg = mc['config'];
  const rawLayers = Array.isArray(cfg) ? cfg : isObj(cfg) && Array.isArray(cfg['layers']) ? cfg['layers'] : fail('modelTopology has no layer list');
  const layers: LayersModelLayer[] = rawLayers.map((l: unknown, i: number): LayersModelLayer => {
    if (!isObj(l) || typeof l['class_name'] !== 'string' || !isObj(l['config'])) return fail(`layer #${i} is malformed`);
    const config = l['config'];
    const name = typeof l['name'] === 'string' ? l['name'] : typeof config['name'] === 'string' ? config['name'] : fail(`layer #${i} has no name`);
    const nodes = l['inbound_nodes'];
    const first = Array.isArray(nodes) && Array.isArray(nodes[0]) ? (nodes[0] as unknown[]) : [];
    const inbound = first.map((n) => (Array.isArray(n) && typeof n[0] === 'string' ? n[0] : fail(`layer '${name}': malformed inbound node`)));
    return { className: l['class_name'], name, config, inbound };
  });
  const manifest = root['weightsManifest'];
  if (!Array.isArray(manifest)) return fail('no "weightsManifest" array');
  const weights = new Map<string, LayersModelWeight>();
  for (const g of manifest as ManifestGroup[]) {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) return fail('malformed weightsManifest group');
    const parts = g.paths.map((p) => {
      try {
        return readShard(p);
      } catch (e) {
        return fail(`cannot read weight shard '${p}' (${(e as Error).message})`);
      }
    });
    const total = parts.reduce((a, p) => a + p.byteLength, 0);
    const buf = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      buf.set(p, o);
      o += p.byteLength;
    }
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let off = 0;
    for (const w of g.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      const stored = q === undefined ? w.dtype : q.dtype;
      const bytes = BYTES[stored];
      if (bytes === undefined) return fail(`weight '${w.name}': unsupported dtype '${stored}'`);
      if (off + n * bytes > total)
        return fail(`weight '${w.name}' [${w.shape.join(', ')}] runs past the end of shard(s) ${g.paths.join(', ')} (${total} bytes)`);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const p = off + i * bytes;
        let v: number;
        switch (stored) {
          case 'float32': v = dv.getFloat32(p, true); break;
          case 'int32': v = dv.getInt32(p, true); break;
          case 'uint8': case 'bool': v = dv.getUint8(p); break;
          case 'uint16': v = dv.getUint16(p, true); break;
          case 'float16': v = f16(dv.getUint16(p, true)); break;
          default: v = fail(`weight '${w.name}': unsupported dtype '${stored}'`);
        }
        data[i] = q !== undefined && stored !== 'float16' ? v * (q.scale ?? 1) + (q.min ?? 0) : v;
      }
      off += n * bytes;
      if (weights.has(w.name)) return fail(`weight '${w.name}' appears twice in the manifest`);
      weights.set(w.name, { shape: [...w.shape], data });
    }
    if (off !== total) return fail(`shard(s) ${g.paths.join(', ')} hold ${total} bytes but the manifest describes ${off}`);
  }
  const kv = topo['keras_version'];
  return { source, layers, weights, ...(typeof kv === 'string' ? { kerasVersion: kv } : {}) };
}

/**
 * Reads a layers-model directory from disk (Node.js): `dir/model.json` and the shards it names.
 * @example
 * const m = await readLayersModelDir('path/to/mobilenet-v1-0.75')
 * m.weights.get('conv1/kernel')?.shape   // [3, 3, 3, 24]
 * @category io
 */
export async function readLayersModelDir(dir: string): Promise<LayersModel> {
  const fs = await import('node:fs');
  const path = await import('node:path');
  const file = path.join(dir, 'model.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new LayersModelError(`${file}: cannot read (${(e as Error).message})`);
  }
  return parseLayersModel(text, (p) => new Uint8Array(fs.readFileSync(path.join(dir, p))), file);
}
