/** @file The REPA-E parameter groups: one registry keys the store, views, gradients, optimizers and checkpoint sections. */
import type { Registry } from '../core/groups.js';
import { defineRegistry } from '../core/grad.js';
import type { T } from '../core/tensor.js';
import type { DiscriminatorParams } from '../models/discriminator.js';
import type { LpipsParams } from '../models/lpips.js';
import type { Projectors, SitParams } from '../models/sit/params.js';
import type { VaeParams } from '../models/vae/params.js';

/**
 * A frozen representation encoder's weights as a tree (MobileNet, DINOv2, ...). The REPA-E losses
 * never read it: targets `zs` are computed from it without a tape before each step (official:
 * `with torch.no_grad(): zs = encoder(...)`), and only the checkpoint stores it.
 * @category models
 */
export interface EncoderWeights<G extends string> {
  readonly [name: string]: T<G> | EncoderWeights<G> | readonly (T<G> | EncoderWeights<G>)[];
}

/**
 * The REPA-E groups: `sit` (SiT backbone incl. `pos_embed`), `proj` (REPA projectors), `vae`,
 * `disc` (PatchGAN), and the frozen `lpips` (VGG16 + lin heads) and `enc` (representation encoder).
 * BatchNorm buffers are not parameters: they travel as explicit state.
 * @category models
 */
export interface RepaeFamilies extends Registry {
  readonly Frozen: 'lpips' | 'enc';
  readonly sit: SitParams<this['G']>;
  readonly proj: Projectors<this['G']>;
  readonly vae: VaeParams<this['G']>;
  readonly disc: DiscriminatorParams<this['G']>;
  readonly lpips: LpipsParams<this['G']>;
  readonly enc: EncoderWeights<this['G']>;
}

/**
 * The typed combinators (`loss`, `sum`, `freeze`, `valueAndGrad`, ...) bound to {@link RepaeFamilies}.
 * @category transforms
 */
export const repae = defineRegistry<RepaeFamilies>({
  groups: ['sit', 'proj', 'vae', 'disc', 'lpips', 'enc'],
  frozen: ['lpips', 'enc'],
});
