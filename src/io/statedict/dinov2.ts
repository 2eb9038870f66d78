/**
 * @file Official DINOv2 state-dict names (facebookresearch/dinov2 hub models `dinov2_vit{s,b,l}14`,
 * `block_chunks=0`, no registers): `cls_token`, `pos_embed`, `mask_token`, `patch_embed.proj.*`,
 * `blocks.{i}.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,mlp.fc1,mlp.fc2,ls2.gamma}`, `norm.*`.
 */
import { tensor } from '../../core/ops/create.js';
import { dispose } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import {
  dinov2Config,
  resamplePosEmbed,
  type Dinov2Arch,
  type Dinov2BlockParams,
  type Dinov2Config,
  type Dinov2LinearParams,
  type Dinov2Params,
} from '../../models/encoders/dinov2.js';
import { readSafetensorsFile } from '../tensors.js';
import { StateDictError, StateDictReader, fmtShape, tensorToEntry, type LoadOptions, type StateDict, type StateDictLike } from './entries.js';

/**
 * The official DINOv2 keys with their PyTorch shapes, in registration order, for a model whose
 * position table has a `posGrid × posGrid` grid (37 for the published weights, `cfg.grid` after
 * REPA's resampling).
 * @example
 * dinov2StateDictSpec(dinov2Config('vit-b'), 37)[1]   // { key: 'pos_embed', shape: [1, 1370, 768] }
 * @category io
 */
export function dinov2StateDictSpec(cfg: Dinov2Config, posGrid = cfg.grid): { readonly key: string; readonly shape: readonly number[] }[] {
  const D = cfg.embedDim, H = cfg.mlpRatio * D, P = cfg.patchSize;
  const out: { key: string; shape: readonly number[] }[] = [
    { key: 'cls_token', shape: [1, 1, D] },
    { key: 'pos_embed', shape: [1, 1 + posGrid * posGrid, D] },
    { key: 'mask_token', shape: [1, D] },
    { key: 'patch_embed.proj.weight', shape: [D, 3, P, P] },
    { key: 'patch_embed.proj.bias', shape: [D] },
  ];
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    out.push(
      { key: `${b}.norm1.weight`, shape: [D] },
      { key: `${b}.norm1.bias`, shape: [D] },
      { key: `${b}.attn.qkv.weight`, shape: [3 * D, D] },
      { key: `${b}.attn.qkv.bias`, shape: [3 * D] },
      { key: `${b}.attn.proj.weight`, shape: [D, D] },
      { key: `${b}.attn.proj.bias`, shape: [D] },
      { key: `${b}.ls1.gamma`, shape: [D] },
      { key: `${b}.norm2.weight`, shape: [D] },
      { key: `${b}.norm2.bias`, shape: [D] },
      { key: `${b}.mlp.fc1.weight`, shape: [H, D] },
      { key: `${b}.mlp.fc1.bias`, shape: [H] },
      { key: `${b}.mlp.fc2.weight`, shape: [D, H] },
      { key: `${b}.mlp.fc2.bias`, shape: [D] },
      { key: `${b}.ls2.gamma`, shape: [D] },
    );
  }
  out.push({ key: 'norm.weight', shape: [D] }, { key: 'norm.bias', shape: [D] });
  return out;
}

/**
 * Infers the architecture of a DINOv2 state dict (width from `cls_token`, depth from the highest
 * `blocks.{i}` index) and returns its config for `resolution`-pixel data. Register checkpoints
 * (`register_tokens`) and chunked blocks (`blocks.{c}.{i}`) are rejected with a clear error.
 * @category io
 */
export function inferDinov2Config(sd: StateDictLike, opts: { readonly resolution?: number; readonly prefix?: string } = {}): Dinov2Config {
  const p = opts.prefix ?? '';
  const cls = sd.get(`${p}cls_token`);
  if (cls === undefined) throw new StateDictError(`dinov2 state dict: missing key '${p}cls_token' (is this a DINOv2 backbone?)`, 'cls_token');
  if (sd.has(`${p}register_tokens`))
    throw new StateDictError(`dinov2 state dict: has '${p}register_tokens' (a *_reg model); only models without registers are supported`, 'register_tokens');
  const D = cls.shape[2];
  const arch = ({ 384: 'vit-s', 768: 'vit-b', 1024: 'vit-l' } as Record<number, Dinov2Arch>)[D ?? 0];
  if (arch === undefined) throw new StateDictError(`dinov2 state dict: cls_token width ${String(D)} is not ViT-S/B/L (384/768/1024)`, 'cls_token', undefined, cls.shape);
  let depth = 0;
  for (const k of sd.keys()) {
    const m = new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}blocks\\.(\\d+)\\.(\\d+)\\.`).exec(k);
    if (m !== null) throw new StateDictError(`dinov2 state dict: chunked block key '${k}' (block_chunks > 0); re-save with block_chunks=0 (hub layout)`, k);
    const b = new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}blocks\\.(\\d+)\\.`).exec(k);
    if (b !== null) depth = Math.max(depth, Number(b[1]) + 1);
  }
  return dinov2Config(arch, { depth, ...(opts.resolution === undefined ? {} : { resolution: opts.resolution }) });
}

/**
 * Builds DINOv2 parameters from an official state dict (e.g. a safetensors conversion of
 * `dinov2_vitb14_pretrain.pth`). The stored position table (37×37 for the published weights) is
 * resampled to `cfg.grid` with timm's antialiased bicubic (REPA `load_encoders`); the patch
 * embedding is transposed to tfjs layout. Missing keys, wrong shapes and (when strict) unexpected
 * keys throw a {@link StateDictError} naming the key and both shapes.
 *
 * @example
 * const sd = readSafetensors(readFileSync('dinov2_vitb14.safetensors')).entries
 * const params = dinov2FromStateDict(sd, dinov2Config('vit-b'))   // pos grid 37 → 16
 * @category io
 */
export function dinov2FromStateDict(sd: StateDictLike, cfg: Dinov2Config, opts: LoadOptions = {}): Dinov2Params<never> {
  const r = new StateDictReader(sd, 'dinov2', opts);
  const D = cfg.embedDim, H = cfg.mlpRatio * D, P = cfg.patchSize;
  const made: T<never>[] = [];
  const t = (key: string, shape: readonly number[], layout: 'conv' | 'same' = 'same'): T<never> => {
    const x = r.tensor(key, shape, layout);
    made.push(x);
    return x;
  };
  if (r.has('register_tokens'))
    throw new StateDictError(`dinov2 state dict: has 'register_tokens' (a *_reg model); only models without registers are supported`, 'register_tokens');
  try {
    const pshape = r.shapeOf('pos_embed');
    if (pshape === undefined) r.entry('pos_embed', [1, 1 + cfg.grid * cfg.grid, D]); // throws "missing"
    const n = (pshape?.[1] ?? 0) - 1;
    const g0 = Math.round(Math.sqrt(n));
    if (pshape?.length !== 3 || g0 * g0 !== n || pshape[2] !== D || pshape[0] !== 1)
      throw new StateDictError(
        `dinov2 state dict: key '${opts.prefix ?? ''}pos_embed' has shape ${fmtShape(pshape ?? [])}, expected [1, 1 + g², ${D}] for a square grid g`,
        'pos_embed',
        [1, 1 + cfg.grid * cfg.grid, D],
        pshape,
      );
    const pe = r.entry('pos_embed', pshape);
    const posEmbed = tensor(resamplePosEmbed(pe.data, D, g0, cfg.grid), [1, 1 + cfg.grid * cfg.grid, D]);
    made.push(posEmbed);
    const lin = (k: string, o: number, i: number): Dinov2LinearParams<never> => ({ w: t(`${k}.weight`, [o, i]), b: t(`${k}.bias`, [o]) });
    const ln = (k: string): Dinov2LinearParams<never> => ({ w: t(`${k}.weight`, [D]), b: t(`${k}.bias`, [D]) });
    const blocks: Dinov2BlockParams<never>[] = [];
    for (let i = 0; i < cfg.depth; i++) {
      const b = `blocks.${i}`;
      blocks.push({
        norm1: ln(`${b}.norm1`),
        attn: { qkv: lin(`${b}.attn.qkv`, 3 * D, D), proj: lin(`${b}.attn.proj`, D, D) },
        ls1: t(`${b}.ls1.gamma`, [D]),
        norm2: ln(`${b}.norm2`),
        mlp: { fc1: lin(`${b}.mlp.fc1`, H, D), fc2: lin(`${b}.mlp.fc2`, D, H) },
        ls2: t(`${b}.ls2.gamma`, [D]),
      });
    }
    const params: Dinov2Params<never> = {
      clsToken: t('cls_token', [1, 1, D]),
      posEmbed,
      maskToken: t('mask_token', [1, D]),
      patchEmbed: { w: t('patch_embed.proj.weight', [D, 3, P, P], 'conv'), b: t('patch_embed.proj.bias', [D]) },
      blocks,
      norm: ln('norm'),
    };
    r.finish(opts.strict ?? true);
    return params;
  } catch (e) {
    dispose(made);
    throw e;
  }
}

/**
 * Writes DINOv2 parameters as an official state dict (PyTorch layouts, official key order). The
 * position table is written at the grid it has (16×16 after REPA's resampling).
 * @category io
 */
export async function dinov2ToStateDict(p: Dinov2Params<string>): Promise<StateDict> {
  const out: StateDict = new Map();
  const put = async (k: string, x: T<string>, layout: 'conv' | 'same' = 'same'): Promise<void> => {
    out.set(k, await tensorToEntry(x, layout));
  };
  await put('cls_token', p.clsToken);
  await put('pos_embed', p.posEmbed);
  await put('mask_token', p.maskToken);
  await put('patch_embed.proj.weight', p.patchEmbed.w, 'conv');
  await put('patch_embed.proj.bias', p.patchEmbed.b);
  for (const [i, b] of p.blocks.entries()) {
    const k = `blocks.${i}`;
    await put(`${k}.norm1.weight`, b.norm1.w);
    await put(`${k}.norm1.bias`, b.norm1.b);
    await put(`${k}.attn.qkv.weight`, b.attn.qkv.w);
    await put(`${k}.attn.qkv.bias`, b.attn.qkv.b);
    await put(`${k}.attn.proj.weight`, b.attn.proj.w);
    await put(`${k}.attn.proj.bias`, b.attn.proj.b);
    await put(`${k}.ls1.gamma`, b.ls1);
    await put(`${k}.norm2.weight`, b.norm2.w);
    await put(`${k}.norm2.bias`, b.norm2.b);
    await put(`${k}.mlp.fc1.weight`, b.mlp.fc1.w);
    await put(`${k}.mlp.fc1.bias`, b.mlp.fc1.b);
    await put(`${k}.mlp.fc2.weight`, b.mlp.fc2.w);
    await put(`${k}.mlp.fc2.bias`, b.mlp.fc2.b);
    await put(`${k}.ls2.gamma`, b.ls2);
  }
  await put('norm.weight', p.norm.w);
  await put('norm.bias', p.norm.b);
  return out;
}

/**
 * Loads a DINOv2 backbone (Node.js) from a safetensors file with the official key names (e.g. a
 * conversion of the hub's `dinov2_vitb14_pretrain.pth`), infers ViT-S/B/L and the depth from the
 * keys, and resamples the position table for `resolution`-pixel data (default 256 → 16×16), as
 * REPA's `load_encoders` does. `prefix` selects keys under a prefix (e.g. `'backbone.'`).
 * @example
 * const { config, params } = loadDinov2('dinov2_vitb14.safetensors')   // config.arch = 'vit-b'
 * const z = dinov2Features(params, batch.images, config)                  // [N, 256, 768]
 * @category io
 */
export function loadDinov2(
  path: string,
  opts: { readonly resolution?: number } & LoadOptions = {},
): { readonly config: Dinov2Config; readonly params: Dinov2Params<never> } {
  const { entries } = readSafetensorsFile(path);
  const config = inferDinov2Config(entries, {
    ...(opts.resolution === undefined ? {} : { resolution: opts.resolution }),
    ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
  });
  return { config, params: dinov2FromStateDict(entries, config, opts) };
}
