/**
 * The routing laws bound to the real REPA-E objectives on a tiny configuration (not only the toy
 * registry): no objective's gradient reaches a group outside its declaration even when every
 * leaf of the store is offered, closures over the real store carry no gradient, the naive
 * ablation is the only objective that sends L_diff into the VAE, and the laws hold on stores drawn
 * from the real store's shapes (arbStoreLike).
 */
import * as fc from 'fast-check';
import { expect, it } from 'vitest';
import { arbStoreLike, checkNoGradOutsideWrt, closureGradientLeak, leakedGroups, routingDeviation } from '../../laws/index.js';
import { dispose, identity, isTensor, mean, numTensors, tensor, type Store } from '../../src/core/index.js';
import { sitLosses } from '../../src/losses/diffusion.js';
import { vaeForward } from '../../src/models/vae/index.js';
import { fold, key, normal, uniformArray } from '../../src/core/rng.js';
import { sampleTime } from '../../src/models/sit/interpolant.js';
import { initDiscriminator, initDiscriminatorState } from '../../src/models/discriminator.js';
import { initLpipsScaling } from '../../src/models/lpips.js';
import { sitTokens } from '../../src/models/sit/config.js';
import { initSit } from '../../src/models/sit/params.js';
import { initVae } from '../../src/models/vae/index.js';
import type { RepaeFamilies } from '../../src/repae/registry.js';
import { repae } from '../../src/repae/registry.js';
import { discObjective, sitObjective, UNSAFE_naiveEndToEndVaeObjective, vaeObjective, type DiscBatch, type SitBatch, type VaeBatch } from '../../src/repae/routing.js';
import { setupRun } from '../../src/train/run.js';
import { decodeRunConfig } from '../../src/train/config.js';
import { describeEachBackend } from '../helpers/backends.js';

const ENC = 8, N = 2;
const setup = setupRun(
  decodeRunConfig({ resolution: 16, vaeCh: 32, vaeChMult: [1, 1], vaeEmbedDim: 4, sitDepth: 2, sitHidden: 32, sitHeads: 2, patchSize: 2, encoderDepth: 1, projectorDim: 16, discNdf: 4, discLayers: 1, numClasses: 2, perceptualWeight: 0 }, 'repae-laws'),
  ENC,
);

function world() {
  const k = key(77);
  const w = initSit(fold(k, 1), setup.sit);
  const store: Store<RepaeFamilies> = {
    sit: w.sit, proj: w.proj, vae: initVae(fold(k, 2), setup.vae), disc: initDiscriminator(fold(k, 3), setup.disc),
    lpips: { net: { slices: [] }, lin: [], ...initLpipsScaling() }, enc: {},
  };
  const res = setup.cfg.resolution, lat = setup.sit.inputSize, E = setup.sit.inChannels;
  const x = tensor(Float32Array.from(uniformArray(fold(k, 4), N * res * res * 3), (u) => 2 * u - 1), [N, res, res, 3]);
  const y = tensor(Int32Array.from([0, 1]), [N], 'int32');
  const zs = [normal(fold(k, 5), [N, sitTokens(setup.sit), ENC])];
  const t = sampleTime(fold(k, 6), N, 'uniform', setup.step.objectives.path);
  const noise = normal(fold(k, 7), [N, lat, lat, E]);
  const ctx = setup.step.objectives;
  const discState = initDiscriminatorState(setup.disc);
  const vb: VaeBatch = { ctx, x, y, zs, t, noise, posterior: { key: fold(k, 8) }, bn: w.bn, discState, globalStep: 0 };
  const z = normal(fold(k, 9), [N, lat, lat, E]);
  const sb: SitBatch = { ctx, z, y, zs, t, noise, key: fold(k, 10), bn: w.bn, bnMode: 'train' };
  const db: DiscBatch = { ctx, x, xHat: x, discState, globalStep: 0 };
  return { store, vb, sb, db, own: [store, w.bn, x, y, zs, t, noise, z, discState] };
}

/** A copy of a batch with fresh tensors (the law disposes what the builders return). */
function deepCopy<X>(x: X): X {
  const go = (n: unknown): unknown =>
    isTensor(n) ? identity(n) : Array.isArray(n) ? n.map(go) : typeof n === 'object' && n !== null ? Object.fromEntries(Object.entries(n).map(([k, v]) => [k, go(v)])) : n;
  return go(x) as X;
}

describeEachBackend('routing laws on the real REPA-E objectives (tiny config)', () => {
  it('no gradient outside the declared groups, every store leaf offered (view law)', () => {
    const { store, vb, sb, db, own } = world();
    const before = numTensors();
    expect(leakedGroups(repae, vaeObjective, store, vb)).toEqual([]);
    expect(leakedGroups(repae, sitObjective, store, sb)).toEqual([]);
    expect(leakedGroups(repae, discObjective, store, db)).toEqual([]);
    expect(leakedGroups(repae, UNSAFE_naiveEndToEndVaeObjective, store, vb)).toEqual([]);
    expect(numTensors()).toBe(before);
    // MUTATION: a view builder that does not detach lets the VAE objective reach the SiT and the discriminator
    const leaks = leakedGroups({ ...repae, view: (st) => st as never }, vaeObjective, store, vb);
    expect(leaks.some((p) => p.startsWith('sit.'))).toBe(true);
    expect(leaks.some((p) => p.startsWith('disc.'))).toBe(true);
    dispose(own);
  });
  it('closures over the real store carry no gradient; sums of real objectives are linear', async () => {
    const { store, vb, own } = world();
    expect(await closureGradientLeak(repae, 'sit|proj|vae|disc', store, vb, (s) => [s.sit.xEmbedder.w, s.vae.encoder.convIn.w, s.disc.convIn.w])).toEqual([]);
    const both = repae.sum([vaeObjective, 1], [UNSAFE_naiveEndToEndVaeObjective, 0.5]);
    expect(await routingDeviation(repae, [[vaeObjective, 1], [UNSAFE_naiveEndToEndVaeObjective, 0.5]], both, store, vb)).toBeLessThan(1e-4);
    dispose(own);
  });
  it('the view law holds on stores drawn from the real store shapes (arbStoreLike)', async () => {
    const { store, sb, own } = world();
    const s = arbStoreLike(store);
    const before = numTensors();
    await checkNoGradOutsideWrt(repae, sitObjective, { store: s.arb, batch: fc.constant(null) }, { store: s.build, batch: () => deepCopy(sb) }, { numRuns: 2 });
    expect(numTensors()).toBe(before);
    dispose(own);
  });
  it('residual: a group set typed narrower than its value still cannot run the diffusion loss on a live latent', () => {
    const { store, vb, own } = world();
    // compiles: TypeScript's mutable array covariance (the residual in README "What is guaranteed")
    const narrow: 'sit|proj'[] = [];
    const wide: string[] = narrow;
    wide.push('sit|proj|vae');
    let refused = 0;
    for (const g of narrow) {
      const forged = repae.loss('forged', g, (v, b: VaeBatch) => {
        const { z } = vaeForward(v.vae, b.x, b.posterior); // typed T<never> ('vae' detached in the type), live at run time
        const r = sitLosses({ sit: v.sit, proj: v.proj, bn: b.bn }, { x: z, y: b.y, zs: b.zs }, { cfg: b.ctx.sit, mode: 'train' });
        return [mean(r.projLoss), {}] as const;
      });
      expect(forged.wrt).toEqual(['sit', 'proj', 'vae']);
      const before = numTensors();
      expect(() => repae.valueAndGrad(forged, 'sit|proj')(store, vb)).toThrow(/sitLosses: the diffusion loss was given a live latent \(it depends at run time on \[vae\]\)/);
      expect(numTensors()).toBe(before);
      refused++;
    }
    expect(refused).toBe(1);
    dispose(own);
  });
}, ['wasm']);
