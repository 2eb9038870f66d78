/** @file Shared types of the golden-fixture checkers (one checker per fixture kind). */
import type { SafeFile } from '../io/safetensors.js';

/** The result of comparing one reference tensor or scalar. @category utility types */
export interface TensorCheck {
  /** Tensor or scalar name as in the fixture (e.g. `grad.blocks.0.attn.qkv.weight`). */
  readonly tensor: string;
  /** The error measured (max-normalised `max|ours−ref|/max|ref|` unless `note` says otherwise). */
  readonly err: number;
  /** The tolerance it was held to. */
  readonly tol: number;
  readonly pass: boolean;
  readonly note?: string;
}

/** A fixture as loaded: its tensors, its json, and the directory (for fixtures that reference others). @category utility types */
export interface Fixture {
  readonly name: string;
  readonly dir: string;
  readonly st: SafeFile;
  readonly json: Readonly<Record<string, unknown>>;
}

/**
 * Checks one fixture on the active backend and returns every comparison made. Checkers must read
 * sizes and options from `fixture.json.config` (not hard-code the shared fixtures), so other
 * fixtures of the same kind (patch 1, qk-norm, two encoders, f16d32, ...) work too.
 * @category utility types
 */
export type FixtureChecker = (fixture: Fixture) => Promise<TensorCheck[]>;
