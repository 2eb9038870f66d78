/** @file Runs every golden fixture in a directory and reports `PASS <name> <max rel err>` / `FAIL <name> <tensor> <err>`. */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../io/safetensors.js';
import type { Fixture, FixtureChecker, TensorCheck } from './types.js';
export type { Fixture, FixtureChecker, TensorCheck } from './types.js';

/** The fixture kinds the official generator produces (letter in the json title, e.g. "(fixture A)"). @category utility types */
export type FixtureKind = 'sit' | 'vae' | 'losses' | 'samplers' | 'repae_step';

const byLetter: Record<string, FixtureKind> = { A: 'sit', B: 'sit', C: 'vae', D: 'vae', E: 'losses', F: 'samplers', G: 'repae_step' };

/** Classifies a fixture by its json (`title` "(fixture X)", else its name prefix). @category utility types */
export function fixtureKind(name: string, json: Readonly<Record<string, unknown>>): FixtureKind | undefined {
  const m = /\(fixture ([A-Z])\)/.exec(String(json['title'] ?? ''));
  if (m !== null && byLetter[m[1] as string] !== undefined) return byLetter[m[1] as string];
  const n = String(json['fixture'] ?? name);
  if (n.startsWith('sit')) return 'sit';
  if (n.startsWith('vae')) return 'vae';
  if (n.startsWith('loss')) return 'losses';
  if (n.startsWith('sampler')) return 'samplers';
  if (n.startsWith('repae')) return 'repae_step';
  return undefined;
}

/** Loads the checker for a kind lazily (so the runner starts fast and a missing model names itself). */
async function checkerFor(kind: FixtureKind): Promise<FixtureChecker> {
  switch (kind) {
    case 'sit': return (await import('./sit.js')).checkSitFixture;
    case 'vae': return (await import('./vae.js')).checkVaeFixture;
    case 'losses': return (await import('./losses.js')).checkLossesFixture;
    case 'samplers': return (await import('./samplers.js')).checkSamplersFixture;
    case 'repae_step': return (await import('./repae-step.js')).checkRepaeStepFixture;
    default: return kind satisfies never;
  }
}

/** One fixture's outcome. @category utility types */
export interface FixtureResult {
  readonly name: string;
  readonly kind: FixtureKind | undefined;
  readonly checks: readonly TensorCheck[];
  readonly error?: string;
  readonly seconds: number;
}

/** The fixture names (json + safetensors pairs) in a directory, sorted. @category utility types */
export function listFixtures(dir: string): string[] {
  if (!existsSync(dir)) throw new Error(`golden: directory '${dir}' does not exist`);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && existsSync(join(dir, f.replace(/\.json$/, '.safetensors'))))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

/** Loads one fixture from a directory. @category utility types */
export function loadFixture(dir: string, name: string): Fixture {
  const st = readSafetensors(new Uint8Array(readFileSync(join(dir, `${name}.safetensors`))), join(dir, `${name}.safetensors`));
  const json = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>;
  return { name, dir, st, json };
}

/** Runs one fixture on the active backend (never throws: errors become a failed result). @category utility types */
export async function runFixture(dir: string, name: string): Promise<FixtureResult> {
  const t0 = performance.now();
  let kind: FixtureKind | undefined;
  try {
    const fx = loadFixture(dir, name);
    kind = fixtureKind(name, fx.json);
    if (kind === undefined) return { name, kind, checks: [], error: 'unknown fixture kind (expected "(fixture A|C|E|F|G)" in its json title)', seconds: 0 };
    const checks = await (await checkerFor(kind))(fx);
    return { name, kind, checks, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    return { name, kind, checks: [], error: e instanceof Error ? e.message : String(e), seconds: (performance.now() - t0) / 1000 };
  }
}

/** The one-line report of a fixture: `PASS <name> <max rel err>` or `FAIL <name> <tensor> <err>`. @category utility types */
export function reportLine(r: FixtureResult): string {
  if (r.error !== undefined) return `FAIL ${r.name} <error> ${r.error}`;
  if (r.checks.length === 0) return `FAIL ${r.name} <none> no tensors were compared`;
  const failed = r.checks.filter((c) => !c.pass);
  if (failed.length > 0) {
    const worst = failed.reduce((a, b) => (b.err / b.tol > a.err / a.tol ? b : a));
    return `FAIL ${r.name} ${worst.tensor} ${worst.err.toExponential(3)} (tol ${worst.tol.toExponential(1)}; ${failed.length}/${r.checks.length} failed)`;
  }
  const worst = r.checks.reduce((a, b) => (b.err > a.err ? b : a));
  return `PASS ${r.name} ${worst.err.toExponential(3)} (${r.checks.length} checks, worst ${worst.tensor}, ${r.seconds.toFixed(1)}s)`;
}
