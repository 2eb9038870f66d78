/**
 * Pins every compile-error promise with the message tsc prints: each file in test/types/errors/
 * marks the offending line with `// expect-error: <substring>` on the line above. The same files are
 * then compiled against a deliberately broken core (the tensor brand without its phantom, and a
 * registry without frozen groups) to show that the type errors come from the core's types.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const dir = join(root, 'test', 'types', 'errors');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));

interface Expect { file: string; line: number; text: string }
const expects: Expect[] = files.flatMap((file) =>
  readFileSync(file, 'utf8').split('\n').flatMap((l, i) => {
    const m = /\/\/ expect-error: (.*)$/.exec(l);
    return m ? [{ file, line: i + 1, text: (m[1] as string).trim() }] : [];
  }),
);

function compile(overrides: Record<string, string> = {}): ts.Diagnostic[] {
  const cfg = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })!;
  const host = ts.createCompilerHost(cfg.options);
  const read = host.readFile.bind(host);
  host.readFile = (f) => overrides[resolve(f)] ?? read(f);
  const getSf = host.getSourceFile.bind(host);
  host.getSourceFile = (f, lang, onErr, create) => {
    const o = overrides[resolve(f)];
    return o !== undefined ? ts.createSourceFile(f, o, lang) : getSf(f, lang, onErr, create);
  };
  const program = ts.createProgram(files, cfg.options, host);
  return ts.getPreEmitDiagnostics(program).filter((d) => d.file !== undefined && files.includes(resolve(d.file.fileName)));
}

const errorsAt = (diags: ts.Diagnostic[], e: Expect): string[] =>
  diags
    .filter((d) => resolve(d.file!.fileName) === e.file && d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 === e.line + 1)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));

describe('compile errors (pinned messages)', () => {
  const diags = compile();
  it('every error file has an expectation', () => {
    expect(expects.length).toBeGreaterThanOrEqual(files.length);
  });
  for (const e of expects) {
    it(`${e.file.split('/').pop()}: ${e.text}`, () => {
      const msgs = errorsAt(diags, e);
      expect(msgs.join('\n---\n')).toContain(e.text);
    });
  }
  it('no unexpected errors elsewhere in those files', () => {
    const expectedLines = new Set(expects.map((e) => `${e.file}:${e.line + 1}`));
    const stray = diags.filter((d) => !expectedLines.has(`${resolve(d.file!.fileName)}:${d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`));
    expect(stray.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  });
});

describe('the same files against a deliberately broken core', () => {
  const tensorPath = join(root, 'src', 'core', 'tensor.ts');
  const brokenTensor = readFileSync(tensorPath, 'utf8')
    .replace('readonly [Deps]: (_: never) => G;', 'readonly [Deps]?: string;')
    .replace('export interface T<out G extends string = never> {', 'export interface T<G extends string = never> {');
  it('the mutation applies', () => expect(brokenTensor).not.toEqual(readFileSync(tensorPath, 'utf8')));
  const diags = compile({ [tensorPath]: brokenTensor });
  it('live latents slip into a SiT-only loss once the phantom is not required', () => {
    const e = expects.find((x) => x.file.endsWith('live-latents-into-sit-loss.ts'))!;
    expect(errorsAt(diags, e)).toEqual([]);
  });
});
