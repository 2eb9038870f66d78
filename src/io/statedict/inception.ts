/**
 * @file pytorch-fid Inception-v3 state-dict names (torchvision `Inception3(aux_logits=False,
 * num_classes=1008)` with the FID blocks): `<conv>.conv.weight`, `<conv>.bn.{weight,bias,
 * running_mean,running_var[,num_batches_tracked]}`, `fc.{weight,bias}`; the weights file is
 * `pt_inception-2015-12-05-6726825d.pth` (convert it to safetensors offline).
 */
import { dispose } from '../../core/scope.js';
import type { T } from '../../core/tensor.js';
import { INCEPTION_CONVS, INCEPTION_FC_CLASSES, type BasicConvParams, type InceptionParams } from '../../metrics/inception.js';
import { StateDictReader, tensorToEntry, type LoadOptions, type StateDict, type StateDictLike } from './entries.js';

/** Options of {@link inceptionStateDictSpec}: include `fc.*` (default true) and `bn.num_batches_tracked` (default false). @category io */
export interface InceptionSpecOptions {
  readonly fc?: boolean;
  readonly numBatchesTracked?: boolean;
}

/**
 * The pytorch-fid Inception keys and PyTorch shapes, in registration order.
 * @category io
 */
export function inceptionStateDictSpec(opts: InceptionSpecOptions = {}): { readonly key: string; readonly shape: readonly number[] }[] {
  const out: { key: string; shape: readonly number[] }[] = [];
  for (const c of INCEPTION_CONVS) {
    out.push({ key: `${c.name}.conv.weight`, shape: [c.outCh, c.inCh, c.kernel[0], c.kernel[1]] });
    for (const b of ['weight', 'bias', 'running_mean', 'running_var']) out.push({ key: `${c.name}.bn.${b}`, shape: [c.outCh] });
    if (opts.numBatchesTracked === true) out.push({ key: `${c.name}.bn.num_batches_tracked`, shape: [] });
  }
  if (opts.fc !== false) out.push({ key: 'fc.weight', shape: [INCEPTION_FC_CLASSES, 2048] }, { key: 'fc.bias', shape: [INCEPTION_FC_CLASSES] });
  return out;
}

/**
 * Builds FID Inception parameters from a pytorch-fid state dict. `bn.num_batches_tracked` entries
 * are accepted and ignored; `fc.*` is read when present (it is not needed for features). Errors
 * name the key and both shapes; with `strict` (default) unexpected keys are errors too.
 *
 * @example
 * const p = inceptionFromStateDict(readSafetensorsFile('pt_inception-2015-12-05.safetensors').entries)
 * @category io
 */
export function inceptionFromStateDict(sd: StateDictLike, opts: LoadOptions = {}): InceptionParams<never> {
  const r = new StateDictReader(sd, 'inception', opts);
  const made: T<never>[] = [];
  const t = (key: string, shape: readonly number[], layout: 'conv' | 'same'): T<never> => {
    const x = r.tensor(key, shape, layout);
    made.push(x);
    return x;
  };
  try {
    const convs: Record<string, BasicConvParams<never>> = {};
    for (const c of INCEPTION_CONVS) {
      const v = [c.outCh];
      convs[c.name] = {
        w: t(`${c.name}.conv.weight`, [c.outCh, c.inCh, c.kernel[0], c.kernel[1]], 'conv'),
        gamma: t(`${c.name}.bn.weight`, v, 'same'),
        beta: t(`${c.name}.bn.bias`, v, 'same'),
        runningMean: t(`${c.name}.bn.running_mean`, v, 'same'),
        runningVar: t(`${c.name}.bn.running_var`, v, 'same'),
      };
      if (r.has(`${c.name}.bn.num_batches_tracked`)) r.number(`${c.name}.bn.num_batches_tracked`);
    }
    const fc = r.has('fc.weight') || r.has('fc.bias')
      ? { w: t('fc.weight', [INCEPTION_FC_CLASSES, 2048], 'same'), b: t('fc.bias', [INCEPTION_FC_CLASSES], 'same') }
      : undefined;
    r.finish(opts.strict ?? true);
    return fc === undefined ? { convs } : { convs, fc };
  } catch (e) {
    dispose(made);
    throw e;
  }
}

/**
 * Writes FID Inception parameters as a pytorch-fid state dict (PyTorch layouts; with
 * `numBatchesTracked`, adds the I64 `bn.num_batches_tracked` = 0 buffers torch writes).
 * @category io
 */
export async function inceptionToStateDict(p: InceptionParams<string>, opts: { readonly numBatchesTracked?: boolean } = {}): Promise<StateDict> {
  const out: StateDict = new Map();
  for (const c of INCEPTION_CONVS) {
    const q = p.convs[c.name];
    if (q === undefined) throw new Error(`inceptionToStateDict: missing conv '${c.name}'`);
    out.set(`${c.name}.conv.weight`, await tensorToEntry(q.w, 'conv'));
    out.set(`${c.name}.bn.weight`, await tensorToEntry(q.gamma, 'same'));
    out.set(`${c.name}.bn.bias`, await tensorToEntry(q.beta, 'same'));
    out.set(`${c.name}.bn.running_mean`, await tensorToEntry(q.runningMean, 'same'));
    out.set(`${c.name}.bn.running_var`, await tensorToEntry(q.runningVar, 'same'));
    if (opts.numBatchesTracked === true) out.set(`${c.name}.bn.num_batches_tracked`, { dtype: 'I64', shape: [], data: [0] });
  }
  if (p.fc !== undefined) {
    out.set('fc.weight', await tensorToEntry(p.fc.w, 'same'));
    out.set('fc.bias', await tensorToEntry(p.fc.b, 'same'));
  }
  return out;
}
