/**
 * @file The golden-check page: runs a SiT or VAE golden fixture (official PyTorch values) through
 * repae's checkers on the page's backend (WebGPU, or wasm) and lists every comparison.
 */
import type { FixtureChecker } from '../src/golden/types.js';
import { fixtureKind, reportLine, type FixtureKind, type FixtureResult } from '../src/golden/runner.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { choosePageBackend, type PageBackend } from './lib/backend.js';

/** What the page exposes as `window.repaeGolden` (read by the browser tests). */
export interface GoldenHandle {
  backend?: PageBackend;
  /** The latest result, with its report line (`PASS …` / `FAIL …`). */
  result?: FixtureResult & { readonly line: string };
}

declare global {
  interface Window {
    repaeGolden: GoldenHandle;
  }
}

const handle: GoldenHandle = {};
window.repaeGolden = handle;

const byId = <E extends HTMLElement>(id: string): E => {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`golden.html has no #${id}`);
  return e as E;
};
const status = byId('status'), bar = byId<HTMLProgressElement>('progress'), summary = byId('summary'), table = byId<HTMLTableElement>('checks');

/** The checker of a fixture kind that can run in a browser (the sampler and step fixtures read further files). */
async function checker(kind: FixtureKind | undefined): Promise<FixtureChecker> {
  if (kind === 'sit') return (await import('../src/golden/sit.js')).checkSitFixture;
  if (kind === 'vae') return (await import('../src/golden/vae.js')).checkVaeFixture;
  throw new Error(`fixture kind '${kind ?? 'unknown'}' is not supported on this page (SiT and VAE fixtures are); use \`npx repae golden\``);
}

/** Checks one fixture given its json text and safetensors bytes, and shows the result. */
async function check(name: string, dir: string, jsonText: string, bytes: Uint8Array): Promise<void> {
  status.textContent = `Checking ${name}…`;
  bar.removeAttribute('value');
  table.hidden = true;
  const t0 = performance.now();
  let result: FixtureResult;
  let kind: FixtureKind | undefined;
  try {
    const json = JSON.parse(jsonText) as Record<string, unknown>;
    kind = fixtureKind(name, json);
    const checks = await (await checker(kind))({ name, dir, json, st: readSafetensors(bytes, `${name}.safetensors`) });
    result = { name, kind, checks, seconds: (performance.now() - t0) / 1000 };
  } catch (e) {
    console.error(e);
    result = { name, kind, checks: [], error: e instanceof Error ? e.message : String(e), seconds: (performance.now() - t0) / 1000 };
  }
  const line = reportLine(result);
  handle.result = { ...result, line };
  summary.textContent = line;
  const rows = [...result.checks].sort((a, b) => b.err / Math.max(b.tol, 1e-30) - a.err / Math.max(a.tol, 1e-30));
  table.tBodies[0]?.replaceChildren(
    ...rows.map((c) => {
      const tr = document.createElement('tr');
      if (!c.pass) tr.className = 'fail';
      for (const text of [c.tensor, c.err.toExponential(2), c.tol.toExponential(0), c.pass ? 'ok' : `FAIL${c.note === undefined ? '' : ` (${c.note})`}`]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
  table.hidden = rows.length === 0;
  status.textContent = `Done in ${result.seconds.toFixed(1)} s.`;
  bar.value = 1;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const b = await choosePageBackend(params.get('backend') ?? undefined);
  handle.backend = b;
  const line = byId('backend');
  line.dataset['backend'] = b.name;
  line.textContent = b.name === 'webgpu' ? `Backend: WebGPU · adapter: ${b.detail}` : `Backend: wasm · ${b.detail}`;
  if (b.fallbackReason !== undefined) {
    const w = byId('backend-warning');
    w.hidden = false;
    w.textContent = `WebGPU is not available here: ${b.fallbackReason}. Checking on the wasm backend (CPU) instead.`;
  }
  byId('run').addEventListener('click', () => {
    const j = byId<HTMLInputElement>('fx-json').files?.[0], s = byId<HTMLInputElement>('fx-st').files?.[0];
    if (j === undefined || s === undefined) return void (status.textContent = 'Pick both files of the fixture.');
    void (async () => check(j.name.replace(/\.json$/, ''), '.', await j.text(), new Uint8Array(await s.arrayBuffer())))();
  });
  const url = params.get('fixture');
  if (url !== null) {
    status.textContent = `Fetching ${url}…`;
    const name = url.slice(url.lastIndexOf('/') + 1);
    const [jsonText, bytes] = await Promise.all([fetch(`${url}.json`).then((r) => r.text()), fetchBytes(`${url}.safetensors`)]);
    await check(name, url.slice(0, url.lastIndexOf('/') + 1), jsonText, bytes);
  } else status.textContent = 'Ready.';
}

start().catch((e: unknown) => {
  status.textContent = `Failed: ${e instanceof Error ? e.message : String(e)}`;
  handle.result = { name: '?', kind: undefined, checks: [], error: String(e), seconds: 0, line: `FAIL <page> ${String(e)}` };
});
