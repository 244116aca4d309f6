// Reference outputs for tests/unit/test_canon.c, from JavaScript itself.
//
//   node canon-node.mjs numbers   one line per double: 16 hex digits of its
//                                 bits, a space, JSON.stringify of it
//   node canon-node.mjs docs      one line per document: a JSON array
//                                 [text, canonical], text being the document
//                                 as a server might send it (any member
//                                 order, whitespace, \u escapes) and
//                                 canonical its RFC 8785 form
//
// Deterministic (a fixed seed), so a failure is reproducible.  RFC 8785's
// canonical form is ECMAScript's own: JSON.stringify for strings and
// numbers, members sorted by UTF-16 code units (what Array.prototype.sort
// compares by default).
const mode = process.argv[2];
let seed = 0x2545f491;
const rnd = () => {       // xorshift32, in [0, 1)
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
};
const pick = (a) => a[Math.floor(rnd() * a.length)];
const out = [];

const buf = new DataView(new ArrayBuffer(8));
const bitsOf = (x) => { buf.setFloat64(0, x); return buf.getBigUint64(0); };
const fromBits = (b) => { buf.setBigUint64(0, b); return buf.getFloat64(0); };
const hex = (x) => bitsOf(x).toString(16).padStart(16, '0');
const near = (x) => [x, fromBits(bitsOf(x) - 1n), fromBits(bitsOf(x) + 1n)];

if (mode === 'numbers') {
  const xs = [];
  for (let e = -1074; e <= 1023; e++) xs.push(...near(2 ** e));
  for (let e = -323; e <= 308; e++) xs.push(...near(Number(`1e${e}`)));
  for (let i = 0; i < 3000; i++) {       // any finite bit pattern
    const b = (BigInt(Math.floor(rnd() * 2 ** 32)) << 32n) | BigInt(Math.floor(rnd() * 2 ** 32));
    xs.push(fromBits(b));
  }
  for (let i = 0; i < 2000; i++) {       // short decimals, as people write them
    const digits = String(Math.floor(rnd() * 10 ** (1 + Math.floor(rnd() * 16))));
    xs.push(Number(`${digits}e${Math.floor(rnd() * 60) - 30}`));
  }
  for (const x of [0, -0, 1, -1, 0.1, 0.2, 0.3, 1 / 3, Math.PI, Number.MAX_VALUE, Number.MIN_VALUE,
    Number.MAX_SAFE_INTEGER, 2 ** 53, 2 ** 53 + 2, 1e21, 1e-6, 1e-7, 123e-20, 9.5367431640625e-7])
    xs.push(...near(x), ...near(-x));
  for (const x of xs) if (Number.isFinite(x)) out.push(`${hex(x)} ${JSON.stringify(x)}`);
} else if (mode === 'docs') {
  const canon = (v) => {
    if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
    if (v && typeof v === 'object')
      return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
    return JSON.stringify(v);
  };
  // Characters chosen to tell UTF-16 order from code point order (an
  // astral character is a surrogate pair, D800-DFFF, so it sorts before
  // U+E000..U+FFFF, while by code point it sorts after them), controls,
  // quotes, backslashes, and the separators JavaScript leaves as they are.
  // NUL only in values: jansson refuses it in member names.
  const alphabet = ['a', 'b', 'B', '_', '1', ' ', '"', '\\', '/', '\n', '\t', '\u001f', '\u007f',
    '\u00e9', '\u20ac', '\u2028', '\u2029', '\ufeff', '\uff61', '\ue000', '\u{1f600}', '\u{10ffff}',
    '\u{1d11e}', '\u4e2d'];
  const str = (nul) => {
    let s = '';
    const n = Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) s += nul && rnd() < 0.05 ? '\u0000' : pick(alphabet);
    return s;
  };
  const num = () => {
    const r = rnd();
    if (r < 0.3) return Math.floor(rnd() * 2000) - 1000;
    if (r < 0.5) return (rnd() - 0.5) * 10 ** (Math.floor(rnd() * 50) - 25);
    if (r < 0.6) return Math.floor(rnd() * 2 ** 62);      // large integers: jansson integers
    if (r < 0.7)                                           // 2^60 .. 2^260
      return fromBits(BigInt(Math.floor(rnd() * 2 ** 52)) | (BigInt(1023 + 60 + Math.floor(rnd() * 200)) << 52n));
    return Number(`${Math.floor(rnd() * 1000)}e${Math.floor(rnd() * 40) - 20}`);
  };
  // No integral value from 2^63 up to 1e21: JSON.stringify writes it out
  // in full, and jansson refuses integers past int64.
  const safe = (x) => (Number.isInteger(x) && Math.abs(x) >= 2 ** 63 && Math.abs(x) < 1e21 ? x * 1000 : x);
  const value = (depth) => {
    const r = rnd();
    if (depth > 4 || r < 0.35) return pick([() => str(true), () => safe(num()), () => true, () => false, () => null])();
    if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => value(depth + 1));
    const o = {};
    const n = Math.floor(rnd() * 6);
    for (let i = 0; i < n; i++) o[str(false)] = value(depth + 1);
    return o;
  };
  // Non-ASCII characters and '/' (only ever inside strings) randomly
  // written as \u escapes, in either case.
  const u = (c) => { const h = c.charCodeAt(0).toString(16).padStart(4, '0'); return `\\u${rnd() < 0.5 ? h : h.toUpperCase()}`; };
  const escape = (text) => text.replace(/[\ud800-\udbff][\udc00-\udfff]|[\u0080-\uffff]|\//g,
    (c) => (rnd() < 0.5 ? c : c.length === 2 ? u(c[0]) + u(c[1]) : u(c)));
  for (let i = 0; i < 3000; i++) {
    const v = { k: value(0) };
    const text = escape(JSON.stringify(v, null, pick([0, 1, 2, '\t'])));
    out.push(JSON.stringify([text, canon(v)]));
  }
} else {
  console.error('usage: canon-node.mjs numbers|docs');
  process.exit(2);
}
process.stdout.write(out.join('\n') + '\n');
