/** @file Loads the c10d part of the native addon (build/native/repae_native.node, `npm run build:native`). */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque process-group handle of the addon. @category utility types */
export interface NativeGroup {
  /** Brand (no run-time field). */
  readonly __nativeGroup: unique symbol;
}

/** A buffer the addon reduces in place: a Float32Array, or a torch tensor handle of the tensor part. @category utility types */
export type NativeBuffer = Float32Array | object;

/** The addon's `collective` part (native/collective.cc). @category utility types */
export interface NativeCollective {
  /** Rendezvous (TCPStore) and a process group (Gloo, or NCCL on a CUDA build). */
  create(o: { rank: number; worldSize: number; masterAddr: string; masterPort: number; timeoutMs: number; backend: string; iface?: string; hostStore?: boolean }): Promise<NativeGroup>;
  /** In-place all-reduce of the buffers, blocking. */
  allReduce(g: NativeGroup, bufs: readonly NativeBuffer[], op: 'sum' | 'mean', sync: true): void;
  /** In-place all-reduce of the buffers, off the JS thread. */
  allReduce(g: NativeGroup, bufs: readonly NativeBuffer[], op: 'sum' | 'mean', sync?: false): Promise<void>;
  /** In-place broadcast from `root`, blocking. */
  broadcast(g: NativeGroup, bufs: readonly NativeBuffer[], root: number, sync: true): void;
  /** In-place broadcast from `root`, off the JS thread. */
  broadcast(g: NativeGroup, bufs: readonly NativeBuffer[], root: number, sync?: false): Promise<void>;
  /** Waits for every rank, blocking. */
  barrier(g: NativeGroup, sync: true): void;
  /** Waits for every rank, off the JS thread. */
  barrier(g: NativeGroup, sync?: false): Promise<void>;
  /** Leaves and frees the process group. */
  destroy(g: NativeGroup): void;
  /** The collective backends this build has (`gloo`, `nccl`). */
  readonly backends: readonly string[];
  /** Whether torch-backend tensors can be reduced in place. */
  readonly torchTensors: boolean;
}

/** Thrown when the native collectives cannot be loaded; `reason` says why. @category utility types */
export class CollectiveUnavailableError extends Error {
  override readonly name = 'CollectiveUnavailableError';
  constructor(readonly reason: string) {
    super(`data-parallel training needs the native addon's c10d collectives: ${reason} (build it with \`npm run build:native\`; Debian needs libtorch-dev and libgloo-dev)`);
  }
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Path of the addon: `$REPAE_NATIVE_ADDON`, else `build/native/repae_native.node` in the repository. @category utility types */
export const addonPath = (): string => {
  // from src/collective (a checkout) or dist/src/collective (the installed package)
  const candidates = [join(root, 'build', 'native', 'repae_native.node'), join(root, '..', 'build', 'native', 'repae_native.node')];
  return process.env['REPAE_NATIVE_ADDON'] ?? candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
};

let cached: NativeCollective | CollectiveUnavailableError | undefined;

const isNative = (x: unknown): x is NativeCollective =>
  typeof x === 'object' && x !== null && typeof (x as Record<string, unknown>)['create'] === 'function' && typeof (x as Record<string, unknown>)['allReduce'] === 'function';

/** The addon's collective part, or a {@link CollectiveUnavailableError} saying why not (never throws). @category utility types */
export function tryNativeCollective(): NativeCollective | CollectiveUnavailableError {
  if (cached !== undefined) return cached;
  const p = addonPath();
  if (!existsSync(p)) return (cached = new CollectiveUnavailableError(`${p} does not exist`));
  try {
    const mod: unknown = createRequire(import.meta.url)(p);
    const c = typeof mod === 'object' && mod !== null ? (mod as Record<string, unknown>)['collective'] : undefined;
    const said = typeof c === 'object' && c !== null ? (c as Record<string, unknown>)['unavailable'] : undefined;
    cached = isNative(c) ? c : new CollectiveUnavailableError(typeof said === 'string' ? said : `${p} has no 'collective' part (built without native/collective.cc?)`);
  } catch (e) {
    cached = new CollectiveUnavailableError(`loading ${p} failed: ${(e as Error).message.split('\n')[0] ?? ''}`);
  }
  return cached;
}

/** The addon's collective part; throws {@link CollectiveUnavailableError}. @category utility types */
export function nativeCollective(): NativeCollective {
  const c = tryNativeCollective();
  if (c instanceof CollectiveUnavailableError) throw c;
  return c;
}
