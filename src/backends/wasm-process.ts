/**
 * @file Keeps tfjs-backend-wasm's Emscripten glue from taking over the process's error handling.
 *
 * When the wasm backend initialises in Node, its Emscripten glue (`wasm-out/tfjs-backend-wasm*.js`)
 * installs `process.on('uncaughtException', ex => { throw ex })` and
 * `process.on('unhandledRejection', r => { throw r })`. Any later uncaught error of the program —
 * ours or a consumer's — is then rethrown from inside that one-line minified file, so Node prints
 * ~39 KB of minified code as the "source line" and exits with code 7 instead of printing the error.
 * (The glue's own cleanup only runs on `dispose()` and its filter is wrong.) This module removes
 * exactly the listeners the glue added, by comparing `process.listeners(...)` before and after.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The process events the Emscripten glue hooks. @category backends */
export const GUARDED_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

/** Process-level listeners of {@link GUARDED_EVENTS} at one moment. @category backends */
export type ListenerSnapshot = Readonly<Record<(typeof GUARDED_EVENTS)[number], readonly ((...args: unknown[]) => void)[]>>;

const hasProcess = (): boolean => typeof process !== 'undefined' && typeof process.listeners === 'function';

type Listener = (...args: unknown[]) => void;
/** `process.listeners(ev)` for one of the guarded events (the overloads are per literal). */
const listenersOf = (ev: (typeof GUARDED_EVENTS)[number]): Listener[] =>
  (ev === 'uncaughtException' ? process.listeners('uncaughtException') : process.listeners('unhandledRejection')) as unknown as Listener[];

/** The current `uncaughtException` / `unhandledRejection` listeners (empty outside Node). @category backends */
export function snapshotProcessListeners(): ListenerSnapshot {
  const get = (ev: (typeof GUARDED_EVENTS)[number]): Listener[] => (hasProcess() ? listenersOf(ev) : []);
  return { uncaughtException: get('uncaughtException'), unhandledRejection: get('unhandledRejection') };
}

/**
 * Removes the `uncaughtException` / `unhandledRejection` listeners added since `before` (and only
 * those: listeners that were already there, e.g. a consumer's own, stay). Returns how many were
 * removed.
 * @category backends
 */
export function removeListenersAddedSince(before: ListenerSnapshot): number {
  if (!hasProcess()) return 0;
  let n = 0;
  for (const ev of GUARDED_EVENTS) {
    const had = new Set(before[ev]);
    for (const l of listenersOf(ev)) {
      if (had.has(l)) continue;
      process.removeListener(ev, l);
      n++;
    }
  }
  return n;
}

const guarded = new WeakSet<object>();

/**
 * Wraps the registered factory of the tfjs backend `name` (default `wasm`) so that each
 * initialisation removes the process-level listeners it installs (see the file comment). Call it
 * right after `import('@tensorflow/tfjs-backend-wasm')`: the glue runs when the backend
 * initialises (`tf.setBackend('wasm')`, `tf.ready()`), not at import. Idempotent. Returns false
 * when there is nothing to guard (no such backend registered, or it was already initialised —
 * then call {@link removeListenersAddedSince} with a snapshot taken before it initialised).
 *
 * @example
 * await import('@tensorflow/tfjs-backend-wasm')
 * guardWasmProcessListeners()
 * await tf.setBackend('wasm')   // process.listeners('uncaughtException') is unchanged
 * @category backends
 */
export function guardWasmProcessListeners(name = 'wasm'): boolean {
  const engine = tf.engine();
  const entry = engine.registryFactory[name];
  if (entry === undefined || name in engine.registry) return false;
  if (guarded.has(entry.factory)) return true;
  const inner = entry.factory;
  const wrapped = async (): Promise<tf.KernelBackend> => {
    const before = snapshotProcessListeners();
    try {
      return await inner();
    } finally {
      removeListenersAddedSince(before);
    }
  };
  guarded.add(wrapped);
  entry.factory = wrapped;
  return true;
}
