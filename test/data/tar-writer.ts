/** A minimal tar writer for tests (ustar headers; GNU `L` long names and pax `x` records on request). */

const enc = new TextEncoder();

function header(name: string, size: number, type: string, prefix = ''): Uint8Array {
  const h = new Uint8Array(512);
  const put = (s: string, off: number, len: number): void => h.set(enc.encode(s).subarray(0, len), off);
  put(name, 0, 100);
  put('0000644\0', 100, 8);
  put('0000000\0', 108, 8);
  put('0000000\0', 116, 8);
  put(size.toString(8).padStart(11, '0') + '\0', 124, 12);
  put('00000000000\0', 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put(prefix, 345, 155);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

const pad = (n: number): Uint8Array => new Uint8Array((512 - (n % 512)) % 512);

/** A member to write: a file (`data`) or a directory (`dir: true`); `long`/`pax` choose how a long name is stored. */
export interface TarMember {
  readonly path: string;
  readonly data?: Uint8Array;
  readonly dir?: boolean;
  readonly long?: 'gnu' | 'pax' | 'prefix';
}

/** Builds a tar archive. */
export function writeTar(members: readonly TarMember[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of members) {
    const data = m.data ?? new Uint8Array(0);
    let name = m.dir === true ? `${m.path}/` : m.path;
    let prefix = '';
    if (m.long === 'gnu') {
      const n = enc.encode(name + '\0');
      parts.push(header('././@LongLink', n.length, 'L'), n, pad(n.length));
      name = name.slice(0, 99);
    } else if (m.long === 'pax') {
      let rec = ` path=${name}\n`;
      rec = `${rec.length + String(rec.length).length}${rec}`;
      const n = enc.encode(rec);
      parts.push(header('PaxHeader', n.length, 'x'), n, pad(n.length));
      name = name.slice(0, 99);
    } else if (m.long === 'prefix') {
      const i = name.lastIndexOf('/');
      prefix = name.slice(0, i);
      name = name.slice(i + 1);
    }
    parts.push(header(name, data.length, m.dir === true ? '5' : '0', prefix), data, pad(data.length));
  }
  parts.push(new Uint8Array(1024));
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
