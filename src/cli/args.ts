/** @file A small, strict command-line flag parser: unknown flags, bad values and stray arguments are errors that name them. */
import { UsageError } from './errors.js';

/** Parsed flags and positional arguments. @category utility types */
export interface Parsed {
  readonly flags: ReadonlyMap<string, string | true>;
  readonly positional: readonly string[];
}

export { UsageError } from './errors.js';

/**
 * Parses `--flag value`, `--flag=value` and boolean `--flag` (listed in `booleans`) against the
 * allowed flag names. Flag names are kebab-case, as in the official scripts. A single-dash token
 * (`-batch-size`) and more than `maxPositional` positional arguments are {@link UsageError}s
 * naming the token (a mistyped line must not start a run with the defaults).
 * @category utility types
 */
export function parseArgs(argv: readonly string[], allowed: readonly string[], booleans: readonly string[] = [], maxPositional = 0): Parsed {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  const all = [...allowed, ...booleans];
  let lastBoolean: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--')) {
      if (a.startsWith('-') && a.length > 1 && !Number.isFinite(Number(a))) {
        const name = a.replace(/^-+/, '').split('=')[0] as string;
        throw new UsageError(`'${a}' is not a flag: flags start with two dashes${all.includes(name) ? ` (did you mean --${name}?)` : ''}`);
      }
      if (positional.length >= maxPositional) {
        const hint = lastBoolean !== undefined && argv[i - 1] === `--${lastBoolean}` ? ` (--${lastBoolean} is a switch: write --${lastBoolean} or --${lastBoolean}=false, not a separate value)` : ' (see --help for the flags)';
        throw new UsageError(`unexpected argument '${a}'${hint}`);
      }
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (!all.includes(name)) {
      const near = closest(name, all);
      throw new UsageError(`unknown flag --${name}${near !== undefined ? ` (did you mean --${near}? see --help)` : all.length <= 12 ? ` (allowed: ${all.map((f) => `--${f}`).join(' ')})` : ' (see --help for the flags)'}`);
    }
    if (booleans.includes(name)) {
      const v = eq < 0 ? true : a.slice(eq + 1);
      if (v !== true && v !== 'true' && v !== 'false') throw new UsageError(`--${name} is a switch: expected --${name}, --${name}=true or --${name}=false, got '${a}'`);
      flags.set(name, v);
      lastBoolean = name;
      continue;
    }
    lastBoolean = undefined;
    const v = eq < 0 ? argv[++i] : a.slice(eq + 1);
    if (v === undefined) throw new UsageError(`flag --${name} needs a value`);
    flags.set(name, v);
  }
  return { flags, positional };
}

/** Edit distance of two short strings. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length] as number;
}

/** The allowed name closest to a misspelt one (within a third of its length), if any. */
const closest = (name: string, allowed: readonly string[]): string | undefined => {
  const best = allowed.map((f) => [f, distance(name, f)] as const).sort((x, y) => x[1] - y[1])[0];
  return best !== undefined && best[1] <= Math.max(1, Math.floor(name.length / 3)) ? best[0] : undefined;
};

/** Whether a boolean switch is on (`--flag` or `--flag=true`). @category utility types */
export const switchFlag = (p: Parsed, name: string): boolean => p.flags.get(name) === true || p.flags.get(name) === 'true';

/** A numeric flag with a default; a non-number is a {@link UsageError} naming the flag. @category utility types */
export function numberFlag(p: Parsed, name: string, dflt: number): number {
  const v = p.flags.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v === true || !Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got '${String(v)}'`);
  return n;
}

/** A string flag with a default. @category utility types */
export function stringFlag(p: Parsed, name: string, dflt: string): string {
  const v = p.flags.get(name);
  if (v === true) throw new UsageError(`--${name} expects a value`);
  return v ?? dflt;
}

/** An integer flag ≥ `min`, naming the flag on error. @category utility types */
export function intFlag(p: Parsed, name: string, dflt: number, min = 1): number {
  const n = numberFlag(p, name, dflt);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} expects an integer ≥ ${min}, got '${String(p.flags.get(name))}'`);
  return n;
}
