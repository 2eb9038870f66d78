/**
 * @file Golden checker for sampler fixtures (kind F, e.g. `samplers`): Euler, Heun and
 * Euler–Maruyama runs with and without guidance, every model call and the final samples, with
 * the SiT weights of the fixture named in `config.model.weights_from` (same directory).
 */
import { read } from '../core/ops/create.js';
import { dispose } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import { readSafetensors } from '../io/safetensors.js';
import type { PathType } from '../models/sit/interpolant.js';
import { sitVelocityModel, type GuidanceOptions, type VelocityModel } from '../sample/cfg.js';
import { eulerSampler } from '../sample/euler.js';
import { eulerMaruyamaSampler } from '../sample/sde.js';
import { compareTo, entry, entryTensor, failedCheck, fixtureSitConfig, FORWARD_TOL, nchwToNhwc, nhwcToNchw } from './sit-common.js';
import { sitWeightsOfFixture } from './sit.js';
import type { Fixture, FixtureChecker, TensorCheck } from './types.js';

/** One run of the fixture (`config.runs.<name>`). */
interface RunSpec {
  readonly fn: string;
  readonly heun?: boolean;
  readonly cfg_scale: number;
  readonly guidance_low: number;
  readonly guidance_high: number;
}

/** Loads the SiT fixture whose weights the sampler fixture uses (Node: reads from `fx.dir`). */
async function loadWeightsFixture(fx: Fixture): Promise<Fixture> {
  const model = ((fx.json['config'] as Record<string, unknown> | undefined)?.['model'] ?? {}) as Record<string, unknown>;
  const file = /([\w.-]+\.safetensors)/.exec(String(model['weights_from'] ?? ''))?.[1] ?? 'sit_p2.safetensors';
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const bytes = new Uint8Array(await readFile(join(fx.dir, file)));
  return { name: file.replace(/\.safetensors$/, ''), dir: fx.dir, st: readSafetensors(bytes, join(fx.dir, file)), json: fx.json };
}

/**
 * Checks a sampler fixture (kind F) on the active backend: for every run in `config.runs`
 * (`samplers.euler_sampler` with or without Heun, `samplers.euler_maruyama_sampler` with the injected
 * `inject.sde_noise`), samples from `in.xT` / `in.y` with the fixture's SiT weights and compares
 * every model call's input `x`, `t`, `y` and output, and the final sample (1e-4, max-normalised;
 * NCHW ↔ NHWC at this boundary). The sampler state is float64 on the host, as officially.
 * @category utility types
 */
export const checkSamplersFixture: FixtureChecker = async (fx) => {
  const config = (fx.json['config'] ?? {}) as Readonly<Record<string, unknown>>;
  const cfg = fixtureSitConfig(fx.json, fx.name);
  const numSteps = Number(config['num_steps']);
  const path = (config['path_type'] ?? 'linear') as PathType;
  const yNull = Number.parseInt(String(config['y_null'] ?? cfg.numClasses), 10);
  const runs = (config['runs'] ?? {}) as Readonly<Record<string, RunSpec>>;
  const st = fx.st;
  const get = (n: string) => entry(st, n, fx.name);
  const weights = sitWeightsOfFixture(await loadWeightsFixture(fx), cfg);
  const xTe = get('in.xT');
  const xT = entryTensor(xTe, true);
  const y = Array.from(get('in.y').data);
  const noise: Float32Array[] = [];
  if (st.entries.has('inject.sde_noise')) {
    const e = get('inject.sde_noise');
    const [k, ...rest] = e.shape as [number, ...number[]];
    const per = rest.reduce((a, b) => a * b, 1);
    for (let i = 0; i < k; i++) noise.push(nchwToNhwc((e.data as Float32Array).subarray(i * per, (i + 1) * per), rest));
  }
  const checks: TensorCheck[] = [];
  const compared = new Set<string>();
  const cmp = (name: string, data: ArrayLike<number>): void => {
    compared.add(name);
    const ref = st.entries.get(name);
    checks.push(ref === undefined ? failedCheck(name, 'the sampler made a call the fixture does not have') : compareTo(name, data, ref, FORWARD_TOL));
  };
  try {
    const base = sitVelocityModel(weights.sit, cfg);
    for (const [run, spec] of Object.entries(runs)) {
      const calls: { x: Float32Array; t: Float32Array; y: Int32Array; out: Float32Array }[] = [];
      const pending: Promise<void>[] = [];
      const model: VelocityModel = {
        numClasses: base.numClasses,
        velocity: (x: T<never>, t: T<never>, yy: T<never>): T<never> => {
          const out = base.velocity(x, t, yy);
          const slot = calls.length;
          calls.push({ x: new Float32Array(0), t: new Float32Array(0), y: new Int32Array(0), out: new Float32Array(0) });
          pending.push(
            (async () => {
              const [xd, td, yd, od] = await Promise.all([read(x), read(t), read(yy), read(out)]);
              calls[slot] = { x: nhwcToNchw(xd, x.shape), t: td, y: Int32Array.from(yd), out: nhwcToNchw(od, out.shape) };
            })(),
          );
          return out;
        },
      };
      const guidance: GuidanceOptions = { scale: spec.cfg_scale, low: spec.guidance_low, high: spec.guidance_high, nullClass: yNull };
      let sample: T<never>;
      if (spec.fn.endsWith('euler_sampler')) sample = await eulerSampler(model, xT, y, { numSteps, heun: spec.heun === true, guidance });
      else if (spec.fn.endsWith('euler_maruyama_sampler')) sample = await eulerMaruyamaSampler(model, xT, y, { numSteps, guidance, path, noise });
      else {
        checks.push(failedCheck(`out.${run}.sample`, `unknown sampler '${spec.fn}'`));
        continue;
      }
      await Promise.all(pending);
      const s = nhwcToNchw(await read(sample), sample.shape);
      dispose(sample);
      cmp(`out.${run}.sample`, s);
      calls.forEach((c, i) => {
        const p = `trace.${run}.call${String(i).padStart(2, '0')}`;
        cmp(`${p}.x`, c.x);
        cmp(`${p}.t`, c.t);
        cmp(`${p}.y`, c.y);
        cmp(`${p}.out`, c.out);
      });
    }
  } finally {
    dispose([weights, xT]);
  }
  for (const name of st.entries.keys())
    if ((name.startsWith('out.') || name.startsWith('trace.')) && !compared.has(name)) checks.push(failedCheck(name, 'not reproduced (missing model call or run)'));
  return checks;
};
