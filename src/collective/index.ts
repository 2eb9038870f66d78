/**
 * @file Data-parallel collectives over parameter / gradient trees, on libtorch's c10d (Gloo on CPU,
 * NCCL where the addon is built for CUDA). tfjs tensors of any backend travel through one packed
 * host buffer per call (one coalesced c10d operation); tensors of the torch backend are cloned on
 * the torch side and their native tensors reduced in place (no host transfer, see backends/torch/clones.ts).
 */
import { packLeaves, replaceTensors, treeTensors, unpackLeaves } from '../backends/host-buffers.js';
import { torchClones } from '../backends/torch/clones.js';
import { nativeCollective, type NativeBuffer, type NativeGroup } from './native.js';

export { CollectiveUnavailableError, addonPath, tryNativeCollective, type NativeBuffer, type NativeCollective, type NativeGroup } from './native.js';

/** Reduction of {@link Collective.allReduce}: `mean` is c10d's sum divided by the world size. @category utility types */
export type ReduceOp = 'mean' | 'sum';

/**
 * A group of `worldSize` processes, this one being `rank`. Tree operations are pure: they return
 * a tree of new tensors with the same structure (numbers and strings are kept; the caller owns and
 * disposes the input). The `…Sync` forms block (bounded by the group's timeout) for callers that
 * are synchronous themselves, such as the gradient hook of a pure training step. A failure (a peer
 * died, a timeout) rejects / throws an Error naming the lost rank when known.
 * @category utility types
 */
export interface Collective {
  readonly rank: number;
  readonly worldSize: number;
  /** `single`, `gloo` or `nccl`. */
  readonly backend: string;
  /** Sums (or averages) every tensor of `tree` over the ranks; returns new tensors (the inputs are unchanged). */
  allReduce<X>(tree: X, op: ReduceOp): Promise<X>;
  /** Every rank receives rank `root`'s tensors of `tree` (new tensors). */
  broadcast<X>(tree: X, root: number): Promise<X>;
  /** Waits until every rank has arrived. */
  barrier(): Promise<void>;
  /** Leaves the process group (idempotent). */
  close(): Promise<void>;
  /** {@link Collective.allReduce}, blocking the JS thread (bounded by the timeout); for the synchronous training step. */
  allReduceSync<X>(tree: X, op: ReduceOp): X;
  /** {@link Collective.broadcast}, blocking the JS thread (bounded by the timeout). */
  broadcastSync<X>(tree: X, root: number): X;
  /** In-place reduction of host buffers (plain numbers: metrics, step counters). */
  allReduceBuffers(bufs: readonly Float32Array[], op: ReduceOp): Promise<void>;
}

type AnyTensor = ReturnType<typeof treeTensors>[number];

/** The trivial collective of a single process (every operation is the identity; results are new tensors as usual). @category utility types */
export function singleProcessCollective(): Collective {
  const copy = <X>(tree: X): X => {
    const ts = treeTensors(tree);
    const { buf, layout } = packLeaves(ts, 'collective');
    return replaceTensors(tree, unpackLeaves(buf, layout) as AnyTensor[]);
  };
  return {
    rank: 0, worldSize: 1, backend: 'single',
    allReduce: async (t) => copy(t), broadcast: async (t) => copy(t), barrier: async () => {}, close: async () => {},
    allReduceSync: copy, broadcastSync: copy, allReduceBuffers: async () => {},
  };
}

/** Where and how to rendezvous. @category utility types */
export interface CollectiveOptions {
  readonly rank: number;
  readonly worldSize: number;
  readonly masterAddr: string;
  readonly masterPort: number;
  /** Rendezvous and per-operation timeout (default 60 s). */
  readonly timeoutMs?: number;
  /** `gloo` (default) or `nccl` (addon built against CUDA). */
  readonly backend?: 'gloo' | 'nccl';
  /** Whether rank 0 hosts the TCPStore (default true; false under torchrun, whose agent hosts it at MASTER_PORT). */
  readonly hostStore?: boolean;
  /** Network interface for Gloo (default: loopback when the master is 127.0.0.1, else the host's address; `GLOO_SOCKET_IFNAME` is honoured). */
  readonly iface?: string;
}

/** Joins a process group (c10d TCPStore rendezvous; rank 0 hosts the store). @category utility types */
export async function createCollective(o: CollectiveOptions): Promise<Collective> {
  if (o.worldSize === 1) return singleProcessCollective();
  const n = nativeCollective();
  const backend = o.backend ?? 'gloo';
  if (!n.backends.includes(backend)) throw new Error(`collective backend '${backend}' is not in this addon build (it has ${n.backends.join(', ')}); NCCL needs LIBTORCH=<a CUDA libtorch> npm run build:native`);
  const g: NativeGroup = await n.create({
    rank: o.rank, worldSize: o.worldSize, masterAddr: o.masterAddr, masterPort: o.masterPort,
    timeoutMs: o.timeoutMs ?? 60_000, backend, ...(o.iface === undefined ? {} : { iface: o.iface }), ...(o.hostStore === undefined ? {} : { hostStore: o.hostStore }),
  });
  let closed = false;
  const live = (): NativeGroup => {
    if (closed) throw new Error(`collective (rank ${o.rank} of ${o.worldSize}) is closed`);
    return g;
  };
  // Torch-backend tensors: torch-side clones reduced in place; otherwise one packed host buffer.
  const run = <X>(tree: X, call: (bufs: readonly NativeBuffer[]) => void): X => {
    const ts = treeTensors(tree);
    const tc = torchClones(ts);
    if (tc !== undefined) {
      try { call(tc.handles); } catch (e) { for (const t of tc.tensors) t.dispose(); throw e; }
      return replaceTensors(tree, tc.tensors);
    }
    const { buf, layout } = packLeaves(ts, 'collective');
    call([buf]);
    return replaceTensors(tree, unpackLeaves(buf, layout) as AnyTensor[]);
  };
  const runAsync = async <X>(tree: X, call: (bufs: readonly NativeBuffer[]) => Promise<void>): Promise<X> => {
    const ts = treeTensors(tree);
    const tc = torchClones(ts);
    if (tc !== undefined) {
      try { await call(tc.handles); } catch (e) { for (const t of tc.tensors) t.dispose(); throw e; }
      return replaceTensors(tree, tc.tensors);
    }
    const { buf, layout } = packLeaves(ts, 'collective');
    await call([buf]);
    return replaceTensors(tree, unpackLeaves(buf, layout) as AnyTensor[]);
  };
  return {
    rank: o.rank, worldSize: o.worldSize, backend,
    allReduce: (tree, op) => runAsync(tree, (b) => n.allReduce(live(), b, op)),
    broadcast: (tree, root) => runAsync(tree, (b) => n.broadcast(live(), b, root)),
    allReduceSync: (tree, op) => run(tree, (b) => n.allReduce(live(), b, op, true)),
    broadcastSync: (tree, root) => run(tree, (b) => n.broadcast(live(), b, root, true)),
    allReduceBuffers: async (bufs, op) => n.allReduce(live(), bufs, op),
    barrier: async () => n.barrier(live()),
    close: async () => { if (!closed) { closed = true; n.destroy(g); } },
  };
}

/** The torchrun variables of this process (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). @category utility types */
export interface DistEnv {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly masterAddr: string;
  readonly masterPort: number;
}

/** Parses the torchrun variables; absent WORLD_SIZE means a single process. Errors name the variable. @category utility types */
export function distEnv(env: Readonly<Record<string, string | undefined>> = process.env): DistEnv {
  const int = (k: string, def: number): number => {
    const v = env[k];
    if (v === undefined || v === '') return def;
    if (!/^\d+$/.test(v)) throw new Error(`environment variable ${k}='${v}' is not a non-negative integer`);
    return Number(v);
  };
  const worldSize = int('WORLD_SIZE', 1), rank = int('RANK', 0);
  if (worldSize < 1) throw new Error(`environment variable WORLD_SIZE=${worldSize} must be at least 1`);
  if (rank >= worldSize) throw new Error(`environment variable RANK=${rank} is outside [0, WORLD_SIZE=${worldSize})`);
  const masterPort = int('MASTER_PORT', 29500);
  if (masterPort < 1 || masterPort > 65535) throw new Error(`environment variable MASTER_PORT=${masterPort} is not a TCP port`);
  return { rank, worldSize, localRank: int('LOCAL_RANK', rank), masterAddr: env['MASTER_ADDR'] ?? '127.0.0.1', masterPort };
}

/**
 * The collective of this process from the torchrun variables (single-process when WORLD_SIZE is
 * absent or 1). `REPAE_DIST_TIMEOUT_MS` sets the timeout, `REPAE_DIST_BACKEND` gloo|nccl; under
 * torchrun (`TORCHELASTIC_USE_AGENT_STORE=True`) the agent's store is used.
 * @category utility types
 */
export async function collectiveFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Promise<Collective> {
  const d = distEnv(env);
  if (d.worldSize === 1) return singleProcessCollective();
  const t = env['REPAE_DIST_TIMEOUT_MS'];
  const b = env['REPAE_DIST_BACKEND'];
  if (b !== undefined && b !== 'gloo' && b !== 'nccl') throw new Error(`environment variable REPAE_DIST_BACKEND='${b}' must be gloo or nccl`);
  // Under torchrun the elastic agent already hosts a TCPStore at MASTER_PORT: every rank is a client.
  const agentStore = env['TORCHELASTIC_USE_AGENT_STORE'] === 'True';
  return createCollective({ ...d, ...(t === undefined ? {} : { timeoutMs: Number(t) }), ...(b === undefined ? {} : { backend: b }), ...(agentStore ? { hostStore: false } : {}) });
}
