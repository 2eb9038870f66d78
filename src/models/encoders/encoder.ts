/** @file What every frozen representation encoder declares: feature dim and token grid, checked against the SiT before training. */

/**
 * The static description of a representation encoder (REPA target): its feature width and the
 * token grid it produces for a dataset image of side `r`.
 *
 * Official REPA-E requires the SiT token count `(H/p)²` to equal the encoder's patch-token count
 * exactly (256 at 256 px, spec §8); {@link checkTokenMatch} turns a mismatch into an error before
 * any training step runs.
 *
 * @example
 * const spec = mobilenetSpec(params, { layer: 'conv_pw_11_relu' })
 * checkTokenMatch(spec, 256, 256)   // 16×16 tokens at 256 px: ok
 * @category models
 */
export interface EncoderSpec {
  /** A readable name, e.g. `mobilenet-v1-0.75:conv_pw_11_relu` or `dinov2-vit-b`. */
  readonly name: string;
  /** Feature width `D` of each token (the projector's output width, official `z_dims`). */
  readonly dim: number;
  /** Token grid `[h, w]` produced for a square dataset image of side `imageSize`. */
  readonly grid: (imageSize: number) => readonly [number, number];
}

/** Thrown when the SiT token count differs from the encoder's. @category models */
export class TokenMismatchError extends Error {
  override readonly name = 'TokenMismatchError';
}

/**
 * Checks that `spec` yields exactly `sitTokens` tokens for images of side `imageSize`; throws a
 * {@link TokenMismatchError} that names both counts and the grid otherwise.
 *
 * @example
 * checkTokenMatch(dinov2Spec(cfg), 256, (256 / 8 / 2) ** 2)   // f8d4 + p=2 at 256 px: ok
 * @category models
 */
export function checkTokenMatch(spec: EncoderSpec, imageSize: number, sitTokens: number): void {
  const [h, w] = spec.grid(imageSize);
  if (h * w !== sitTokens)
    throw new TokenMismatchError(
      `encoder ${spec.name} gives a ${h}x${w} grid (${h * w} tokens) for ${imageSize}px images, but the SiT has ` +
        `${sitTokens} tokens; choose the image size, VAE downsampling and patch size so that (H/f/p)^2 = ${h * w}, ` +
        `or another encoder input size`,
    );
}
