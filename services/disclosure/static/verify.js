// verify.js — check an ssj draw proof (双随机抽取证明) in the browser, with no service.
//
// An independent implementation of `ssj draw verify` (services/draw/protocol/verify.py),
// written from docs/draw-protocol.md and the reference: verifyProof(proof) names exactly
// the problems the reference names, in its words and its order, and groups them into the
// steps a citizen checks; parseProofText(text) reads a proof as the reference's
// strict.load does (one reading only). An ES module with no imports and no build step:
// SHA-256 and SHA-1 come from WebCrypto (crypto.subtle, browsers and Node 20); SHAKE-256
// (the full proof's salts) and MD5 (RFC 3797 selections) are written out below.
//
// The reference is Python, and its messages print Python values, so the first sections
// give this file Python's reading of JSON values: ints apart from floats (2 is not 2.0),
// strings compared and sorted by code point, repr() and json.dumps() as Python writes
// them, and Python's exceptions where the reference reports one by its class name ("the
// draw cannot be recomputed: KeyError: 'secret'"). The sections after them follow the
// reference's modules: strict (reading), digests, canonical, merkle, stream, subjects,
// rfc3797, entropy, groups, replace3, blinding, public, reasons and checks, ISO times
// (datetime.fromisoformat), v3, strict (form), proof, verify3 and verify; the last one
// groups the problems into the citizen's checks.
//
// verifyProof expects what parseProofText returns: JSON.parse would lose integers beyond
// 2^53 and the difference between 2 and 2.0, which the reference tells apart.

// ---------------------------------------------------------------------------------------
// Python values and errors
// ---------------------------------------------------------------------------------------

/** An exception of the reference: `pyType` is its class name, the message its str(). */
class PyError extends Error {
  constructor(pyType, message) {
    super(message);
    this.pyType = pyType;
  }
}

// The reference's own exception classes and the built-in ones it catches, by their base
// (an `except ValueError` catches an EntropyError).
const PY_BASES = {
  EntropyError: "ValueError",
  ReplacementError: "ValueError",
  NoValidGroup: "ValueError",
  UnicodeEncodeError: "ValueError",
  JSONDecodeError: "ValueError",
};

function raise(pyType, message) {
  throw new PyError(pyType, message);
}

/** Whether `error` is a Python exception of one of `types` (or of a subclass). */
function isPy(error, ...types) {
  if (!(error instanceof PyError)) return false;
  for (let t = error.pyType; t; t = PY_BASES[t]) if (types.includes(t)) return true;
  return false;
}

/** Run `body`; a Python exception of `types` becomes `onError(error)`, any other is
 * rethrown (a bug of this file must never pass for a finding). */
async function tryPy(types, body, onError) {
  try {
    return await body();
  } catch (error) {
    if (isPy(error, ...types)) return onError(error);
    throw error;
  }
}

/** A JSON number with a fraction or an exponent, which Python reads as a float. */
class PyFloat {
  constructor(value) {
    this.value = value;
  }
}

const isNone = (v) => v === null || v === undefined;
const isBool = (v) => typeof v === "boolean";
const isStr = (v) => typeof v === "string";
const isList = (v) => Array.isArray(v);
// Ints are JS numbers (BigInt beyond 2^53); a plain JS number with a fraction (a proof
// read by JSON.parse) counts as a float, as Python would have read it.
const isInt = (v) => typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v));
const isFloat = (v) => v instanceof PyFloat || (typeof v === "number" && !Number.isInteger(v));
const isNumber = (v) => isBool(v) || isInt(v) || isFloat(v);
const isDict = (v) =>
  v instanceof Map ||
  (typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof PyFloat));
const floatValue = (v) => (v instanceof PyFloat ? v.value : v);

function typeName(v) {
  if (isNone(v)) return "NoneType";
  if (isBool(v)) return "bool";
  if (isInt(v)) return "int";
  if (isFloat(v)) return "float";
  if (isStr(v)) return "str";
  if (isList(v)) return "list";
  return "dict";
}

// Dicts: objects (null prototype) or, when a key is an array index that JS would move to
// the front, a Map, so that keys keep the order the proof gives them (Python's).
const keysOf = (d) => (d instanceof Map ? [...d.keys()] : Object.keys(d));
const hasKey = (d, k) => (d instanceof Map ? d.has(k) : Object.hasOwn(d, k));

/** Python's `d.get(k, default)`; None is null. */
function get(d, k, fallback = null) {
  if (!isDict(d)) raise("AttributeError", `'${typeName(d)}' object has no attribute 'get'`);
  if (!hasKey(d, k)) return fallback;
  const v = d instanceof Map ? d.get(k) : d[k];
  return v === undefined ? null : v;
}

const entriesOf = (d) => keysOf(d).map((k) => [k, get(d, k)]);

/** `{**d, **extra}`: d's keys in their order, then extra's new ones. */
function merged(d, extra) {
  const out = d instanceof Map ? new Map(d) : Object.assign(Object.create(null), d);
  for (const [k, v] of Object.entries(extra)) {
    if (out instanceof Map) out.set(k, v);
    else out[k] = v;
  }
  return out;
}

/** Python's `container[key]`, with its exceptions. */
function item(c, key) {
  if (isDict(c)) {
    if (isStr(key) && hasKey(c, key)) return get(c, key);
    raise("KeyError", repr(key));
  }
  if (isList(c) || isStr(c)) {
    const what = isList(c) ? "list" : "string";
    if (!isInt(key) && !isBool(key)) {
      raise(
        "TypeError",
        isList(c)
          ? `list indices must be integers or slices, not ${typeName(key)}`
          : `string indices must be integers, not '${typeName(key)}'`,
      );
    }
    const seq = isList(c) ? c : Array.from(c);
    let at = Number(key);
    if (at < 0) at += seq.length;
    if (at < 0 || at >= seq.length) raise("IndexError", `${what} index out of range`);
    return seq[at];
  }
  raise("TypeError", `'${typeName(c)}' object is not subscriptable`);
}

/** What Python's `for x in v` visits. */
function iter(v) {
  if (isList(v)) return v;
  if (isDict(v)) return keysOf(v);
  if (isStr(v)) return Array.from(v);
  raise("TypeError", `'${typeName(v)}' object is not iterable`);
}

/** Python's `a, b = v`. */
function unpack2(v) {
  if (!isList(v) && !isDict(v) && !isStr(v)) {
    raise("TypeError", `cannot unpack non-iterable ${typeName(v)} object`);
  }
  const items = iter(v);
  if (items.length > 2) raise("ValueError", "too many values to unpack (expected 2)");
  if (items.length < 2) {
    raise("ValueError", `not enough values to unpack (expected 2, got ${items.length})`);
  }
  return items;
}

/** Python's `x in container`. */
function contains(container, x) {
  if (isDict(container)) return isStr(x) && hasKey(container, x);
  if (isList(container)) return container.some((y) => pyEq(x, y));
  if (isStr(container)) {
    if (!isStr(x)) {
      raise("TypeError", `'in <string>' requires string as left operand, not ${typeName(x)}`);
    }
    return container.includes(x);
  }
  raise("TypeError", `argument of type '${typeName(container)}' is not iterable`);
}

/** Python's truth value. */
function truthy(v) {
  if (isNone(v)) return false;
  if (isBool(v)) return v;
  if (isInt(v)) return BigInt(v) !== 0n;
  if (isFloat(v)) return floatValue(v) !== 0;
  if (isStr(v) || isList(v)) return v.length > 0;
  return keysOf(v).length > 0;
}

/** A key for a Python set or dict of these values (equal values, equal keys:
 * 1 == 1.0 == True); a list or dict is unhashable, as in Python. */
function hashKey(v) {
  if (isStr(v)) return "s" + v;
  if (isNone(v)) return "N";
  if (isBool(v)) return v ? "n1" : "n0";
  if (isInt(v)) return "n" + BigInt(v);
  if (isFloat(v)) {
    const x = floatValue(v);
    return Number.isInteger(x) ? "n" + BigInt(x) : "f" + x;
  }
  raise("TypeError", `unhashable type: '${typeName(v)}'`);
}

/** An exact value of a number (bool, int, float) for comparing across types. */
function exact(v) {
  if (isBool(v)) return v ? 1n : 0n;
  if (isInt(v)) return BigInt(v);
  const x = floatValue(v);
  return Number.isInteger(x) ? BigInt(x) : x;
}

function numEq(a, b) {
  const x = exact(a);
  const y = exact(b);
  if (typeof x === typeof y) return x === y;
  return false; // an int never equals a float with a fraction (or inf, nan)
}

function numCmp(a, b) {
  const x = exact(a);
  const y = exact(b);
  if (typeof x === typeof y) return x < y ? -1 : x > y ? 1 : 0;
  if (Number.isNaN(x) || Number.isNaN(y)) return 0;
  return x < y ? -1 : x > y ? 1 : 0; // JS compares a BigInt with a number exactly
}

/** Python's `==` on JSON values (True == 1 == 1.0; None only equals None). */
function pyEq(a, b) {
  if (isNone(a) || isNone(b)) return isNone(a) && isNone(b);
  if (isStr(a) || isStr(b)) return a === b;
  if (isNumber(a) && isNumber(b)) return numEq(a, b);
  if (isList(a) || isList(b)) {
    return isList(a) && isList(b) && a.length === b.length && a.every((x, i) => pyEq(x, b[i]));
  }
  if (isDict(a) && isDict(b)) {
    const keys = keysOf(a);
    return (
      keys.length === keysOf(b).length &&
      keys.every((k) => hasKey(b, k) && pyEq(get(a, k), get(b, k)))
    );
  }
  return false;
}

const isHigh = (u) => u >= 0xd800 && u <= 0xdbff;
const isLow = (u) => u >= 0xdc00 && u <= 0xdfff;

/** Python's string order: by code point, where JS's `<` compares UTF-16 units (they
 * differ for characters beyond U+FFFF against U+E000–U+FFFF). */
function cmpStr(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length < b.length ? -1 : 1;
  // Differing low surrogates belong to the code point that starts one unit earlier.
  if (i > 0 && isHigh(a.charCodeAt(i - 1)) && (isLow(a.charCodeAt(i)) || isLow(b.charCodeAt(i)))) {
    i -= 1;
  }
  return a.codePointAt(i) < b.codePointAt(i) ? -1 : 1;
}

/** Python's `<` for sorting: strings by code point, lists element by element. */
function pyCmp(a, b) {
  if (isStr(a) && isStr(b)) return cmpStr(a, b);
  if (isList(a) && isList(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!pyEq(a[i], b[i])) return pyCmp(a[i], b[i]);
    }
    return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
  }
  if (isNumber(a) && isNumber(b)) return numCmp(a, b);
  raise(
    "TypeError",
    `'<' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`,
  );
}

const pySorted = (values) => [...values].sort(pyCmp); // stable, as Python's sort

/** Python's `all(a < b for a, b in pairwise(rows))`. */
const sortedUnique = (rows) => rows.every((r, i) => i === 0 || pyCmp(rows[i - 1], r) < 0);

// ---- Python's printing of values --------------------------------------------------------

/** float.__repr__: the shortest digits that read back (as JS's), written Python's way. */
function floatRepr(x) {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa, power] = x.toExponential().split("e");
  const exp = Number(power);
  const sign = x < 0 ? "-" : "";
  const digits = mantissa.replace("-", "").replace(".", "");
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
    const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    return `${sign}${whole}.${digits.slice(exp + 1) || "0"}`;
  }
  const head = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = String(Math.abs(exp)).padStart(2, "0");
  return `${sign}${head}e${exp < 0 ? "-" : "+"}${e}`;
}

// Characters assigned after Unicode 14.0, the database of the reference's Python 3.11:
// to it they are unassigned (category Cn: not printable, "invisible", left alone by
// normalisation, no digit), whatever a newer JavaScript engine knows of them. Without
// this a roster with such a character would pass here and fail there.
const NEWER_THAN_PYTHON = (
  "88f,897,c5c,cdc,cf3,ece,1acf-1add,1ae0-1aeb,1b4e-1b4f,1b7f,1c89-1c8a,20c1,2427-2429," +
  "2b96,2ffc-2fff,31e4-31e5,31ef,a7cb-a7cf,a7d2,a7d4,a7da-a7dc,a7f1,fbc3-fbd2,fd90-fd91," +
  "fdc8-fdce,105c0-105f3,10940-10959,10d40-10d65,10d69-10d85,10d8e-10d8f,10ec2-10ec7," +
  "10ed0-10ed8,10efa-10eff,1123f-11241,11380-11389,1138b,1138e,11390-113b5,113b7-113c0," +
  "113c2,113c5,113c7-113ca,113cc-113d5,113d7-113d8,113e1-113e2,116d0-116e3,11b00-11b09," +
  "11b60-11b67,11bc0-11be1,11bf0-11bf9,11db0-11ddb,11de0-11de9,11f00-11f10,11f12-11f3a," +
  "11f3e-11f5a,1342f,13440-13455,13460-143fa,16100-16139,16d40-16d79,16ea0-16eb8," +
  "16ebb-16ed3,16ff2-16ff6,187f8-187ff,18cff,18d09-18d1e,18d80-18df2,1b132,1b155," +
  "1cc00-1ccfc,1cd00-1ceb3,1ceba-1ced0,1cee0-1cef0,1d2c0-1d2d3,1df25-1df2a,1e030-1e06d," +
  "1e08f,1e4d0-1e4f9,1e5d0-1e5fa,1e5ff,1e6c0-1e6de,1e6e0-1e6f5,1e6fe-1e6ff,1f6d8,1f6dc," +
  "1f774-1f77f,1f7d9,1f8b2-1f8bb,1f8c0-1f8c1,1f8d0-1f8d8,1fa54-1fa57,1fa75-1fa77," +
  "1fa87-1fa8a,1fa8e-1fa8f,1faad-1faaf,1fabb-1fabf,1fac6,1fac8,1facd-1facf,1fada-1fadc," +
  "1fadf,1fae8-1faea,1faef,1faf7-1faf8,1fbcb-1fbef,1fbfa,2b739-2b73f,2cea2-2cead," +
  "2ebf0-2ee5d,31350-33479"
)
  .split(",")
  .map((range) =>
    range
      .split("-")
      .map((h) => `\\u{${h}}`)
      .join("-"),
  )
  .join("");
const NEWER = new RegExp(`[${NEWER_THAN_PYTHON}]`, "u");
const NEWER_SPLIT = new RegExp(`([${NEWER_THAN_PYTHON}])`, "u");

/** unicodedata.normalize(form, s) with Python 3.11's database (newer characters kept). */
function normalized(s, form) {
  if (!NEWER.test(s)) return s.normalize(form);
  return s
    .split(NEWER_SPLIT)
    .map((part, i) => (i % 2 ? part : part.normalize(form)))
    .join("");
}

const NOT_PRINTABLE = new RegExp(`[\\p{C}\\p{Z}${NEWER_THAN_PYTHON}]`, "u");
const isPrintableChar = (ch) => ch === " " || !NOT_PRINTABLE.test(ch);

/** str.isprintable(): no control, format, private-use, unassigned, surrogate or separator
 * character but the space. */
const ALL_PRINTABLE = new RegExp(`^(?:[^\\p{C}\\p{Z}${NEWER_THAN_PYTHON}]| )*$`, "u");
const isPrintable = (s) => ALL_PRINTABLE.test(s);

function hexDigits(n, width) {
  return n.toString(16).padStart(width, "0");
}

/** repr() of a str. */
function strRepr(s) {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (cp < 0x20 || cp === 0x7f) out += "\\x" + hexDigits(cp, 2);
    else if (cp < 0x7f || isPrintableChar(ch)) out += ch;
    else if (cp <= 0xff) out += "\\x" + hexDigits(cp, 2);
    else if (cp <= 0xffff) out += "\\u" + hexDigits(cp, 4);
    else out += "\\U" + hexDigits(cp, 8);
  }
  return out + quote;
}

/** repr() of a JSON value. */
function repr(v) {
  if (isNone(v)) return "None";
  if (isBool(v)) return v ? "True" : "False";
  if (isInt(v)) return String(v);
  if (isFloat(v)) return floatRepr(floatValue(v));
  if (isStr(v)) return strRepr(v);
  if (isList(v)) return "[" + v.map(repr).join(", ") + "]";
  return (
    "{" +
    entriesOf(v)
      .map(([k, x]) => `${strRepr(k)}: ${repr(x)}`)
      .join(", ") +
    "}"
  );
}

/** str() of a JSON value, as an f-string prints it. */
const pyStr = (v) => (isStr(v) ? v : repr(v));

const JSON_ESCAPES = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
JSON_ESCAPES["\b"] = "\\b";
JSON_ESCAPES["\f"] = "\\f";

/** A str as json.dumps(ensure_ascii=False) writes it: only quotes, backslashes and
 * control characters escaped; everything else, lone surrogates included, as itself. */
const jsonStr = (s) =>
  '"' +
  s.replace(/["\\\x00-\x1f]/g, (c) => JSON_ESCAPES[c] || "\\u" + hexDigits(c.charCodeAt(0), 4)) +
  '"';

function jsonFloat(x) {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return floatRepr(x);
}

/** json.dumps(v, ensure_ascii=False): with `canonical`, also sort_keys=True and the
 * separators "," and ":" (canonical.canonical_json); else ", " and ": ". */
function jsonDumps(v, canonical = false) {
  const [comma, colon] = canonical ? [",", ":"] : [", ", ": "];
  const write = (x) => {
    if (isNone(x)) return "null";
    if (isBool(x)) return x ? "true" : "false";
    if (isInt(x)) return String(x);
    if (isFloat(x)) return jsonFloat(floatValue(x));
    if (isStr(x)) return jsonStr(x);
    if (isList(x)) return "[" + x.map(write).join(comma) + "]";
    const keys = canonical ? keysOf(x).sort(cmpStr) : keysOf(x);
    return "{" + keys.map((k) => jsonStr(k) + colon + write(get(x, k))).join(comma) + "}";
  };
  return write(v);
}

// ---- Python's str methods -------------------------------------------------------------

// str.isspace(): what str.split() splits on and field() folds.
const PY_SPACE =
  "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const SPACE_RUN = new RegExp(`[${PY_SPACE}]+`);
const IS_SPACE = new RegExp(`^[${PY_SPACE}]$`);
const SPACE_EDGES = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");

/** str.split() with no separator: runs of whitespace, no empty ends. */
const splitWhitespace = (s) => s.split(SPACE_RUN).filter((part) => part !== "");

const codePoints = (s) => Array.from(s); // lone surrogates count one each, as in Python
const cpLength = (s) => (/[\uD800-\uDFFF]/.test(s) ? codePoints(s).length : s.length);
const cpSlice = (s, start, end) =>
  /[\uD800-\uDFFF]/.test(s) ? codePoints(s).slice(start, end).join("") : s.slice(start, end);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const textEncoder = new TextEncoder();

/** str.encode("utf-8"): a lone surrogate is Python's UnicodeEncodeError, not U+FFFD. */
function utf8(s) {
  if (LONE_SURROGATE.test(s)) {
    const chars = codePoints(s);
    const lone = (ch) =>
      ch.length === 1 && ch.charCodeAt(0) >= 0xd800 && ch.charCodeAt(0) <= 0xdfff;
    const start = chars.findIndex(lone);
    let end = start + 1;
    while (end < chars.length && lone(chars[end])) end++;
    const what =
      end - start === 1
        ? `character '\\u${hexDigits(chars[start].charCodeAt(0), 4)}' in position ${start}`
        : `characters in position ${start}-${end - 1}`;
    raise("UnicodeEncodeError", `'utf-8' codec can't encode ${what}: surrogates not allowed`);
  }
  return textEncoder.encode(s);
}

/** int() of a str: whitespace around, a sign, decimal digits (any script) with single
 * underscores between them. */
function intOfText(text) {
  const body = text.replace(SPACE_EDGES, "");
  const digits = [];
  let sign = 1n;
  let chars = codePoints(body);
  if (chars[0] === "+" || chars[0] === "-") {
    if (chars[0] === "-") sign = -1n;
    chars = chars.slice(1);
  }
  let ok = chars.length > 0;
  chars.forEach((ch, i) => {
    if (ch === "_" && i > 0 && i < chars.length - 1 && chars[i - 1] !== "_") return;
    const d = decimalValue(ch);
    if (d < 0) ok = false;
    else digits.push(d);
  });
  if (!ok)
    raise("ValueError", `invalid literal for int() with base 10: ${cpSlice(repr(text), 0, 200)}`);
  return sign * bigDigits(digits.join(""));
}

const DECIMAL_DIGIT = /^\p{Nd}$/u;

/** The value of a decimal digit of any script (-1: not one): Unicode puts each script's
 * digits zero to nine in a row, so a digit's value is its distance from its run's start
 * modulo ten. */
function decimalValue(ch) {
  if (ch >= "0" && ch <= "9") return ch.charCodeAt(0) - 48;
  if (!DECIMAL_DIGIT.test(ch) || NEWER.test(ch)) return -1;
  let start = ch.codePointAt(0);
  while (DECIMAL_DIGIT.test(String.fromCodePoint(start - 1))) start--;
  return (ch.codePointAt(0) - start) % 10;
}

const MAX_STR_DIGITS = 4300; // sys.int_info.default_max_str_digits

/** int() of a string of ASCII digits, with Python's limit on their number. */
function bigDigits(digits) {
  if (digits.length > MAX_STR_DIGITS) {
    raise(
      "ValueError",
      `Exceeds the limit (${MAX_STR_DIGITS} digits) for integer string conversion: value has ` +
        `${digits.length} digits; use sys.set_int_max_str_digits() to increase the limit`,
    );
  }
  return BigInt(digits);
}

/** A Python int as a JS number when it fits, else a BigInt. */
const smallInt = (n) =>
  typeof n === "bigint" && n >= -(2n ** 53n) && n <= 2n ** 53n ? Number(n) : n;

/** Python's int(v). */
function pyInt(v) {
  if (isBool(v)) return v ? 1 : 0;
  if (isInt(v)) return v;
  if (isFloat(v)) {
    const x = floatValue(v);
    if (Number.isNaN(x)) raise("ValueError", "cannot convert float NaN to integer");
    if (!Number.isFinite(x)) raise("OverflowError", "cannot convert float infinity to integer");
    return smallInt(BigInt(Math.trunc(x)));
  }
  if (isStr(v)) return smallInt(intOfText(v));
  raise(
    "TypeError",
    `int() argument must be a string, a bytes-like object or a real number, not '${typeName(v)}'`,
  );
}

/** min() of two Python ints (numbers or BigInts). */
const minInt = (a, b) => (b < a ? b : a);

// ---------------------------------------------------------------------------------------
// strict: one reading only (strict.load)
// ---------------------------------------------------------------------------------------

/** A JSON text as Python's json.loads reads it, refusing what strict.load refuses: a key
 * twice in an object, NaN and Infinity. Numbers keep Python's int/float distinction. */
class JsonReader {
  constructor(text) {
    this.s = text;
    this.n = text.length;
  }

  fail(message, at) {
    // Python counts characters (code points) and lines from 1.
    const before = codePoints(this.s.slice(0, at));
    const pos = before.length;
    const newline = before.lastIndexOf("\n");
    const line = before.filter((c) => c === "\n").length + 1;
    const column = pos - newline;
    raise("JSONDecodeError", `${message}: line ${line} column ${column} (char ${pos})`);
  }

  skip(i) {
    const s = this.s;
    while (i < this.n && (s[i] === " " || s[i] === "\t" || s[i] === "\n" || s[i] === "\r")) i++;
    return i;
  }

  read() {
    if (this.s.startsWith("\ufeff")) this.fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
    const start = this.skip(0);
    const [value, end] = this.value(start, true);
    const after = this.skip(end);
    if (after !== this.n) this.fail("Extra data", after);
    return value;
  }

  /** The value at i and where it ends; at no value, "Expecting value" at i. */
  value(i) {
    const s = this.s;
    if (i >= this.n) this.fail("Expecting value", i);
    const c = s[i];
    if (c === '"') return this.string(i + 1);
    if (c === "{") return this.object(i + 1);
    if (c === "[") return this.array(i + 1);
    if (c === "n" && s.startsWith("null", i)) return [null, i + 4];
    if (c === "t" && s.startsWith("true", i)) return [true, i + 4];
    if (c === "f" && s.startsWith("false", i)) return [false, i + 5];
    if (c === "N" && s.startsWith("NaN", i)) raise("ValueError", "NaN is not JSON");
    if (c === "I" && s.startsWith("Infinity", i)) raise("ValueError", "Infinity is not JSON");
    if (c === "-" && s.startsWith("-Infinity", i)) raise("ValueError", "-Infinity is not JSON");
    return this.number(i);
  }

  number(start) {
    const s = this.s;
    const digit = (k) => k < this.n && s[k] >= "0" && s[k] <= "9";
    let i = start;
    if (s[i] === "-") i++;
    if (digit(i) && s[i] !== "0") {
      while (digit(i)) i++;
    } else if (s[i] === "0") {
      i++;
    } else {
      this.fail("Expecting value", start);
    }
    let isFloatText = false;
    if (s[i] === "." && digit(i + 1)) {
      isFloatText = true;
      i += 2;
      while (digit(i)) i++;
    }
    if (s[i] === "e" || s[i] === "E") {
      const back = i;
      i++;
      if (s[i] === "-" || s[i] === "+") i++;
      const first = i;
      while (digit(i)) i++;
      if (i > first) isFloatText = true;
      else i = back;
    }
    const text = s.slice(start, i);
    if (isFloatText) return [new PyFloat(Number(text)), i];
    const negative = text.startsWith("-");
    const magnitude = bigDigits(negative ? text.slice(1) : text);
    return [smallInt(negative ? -magnitude : magnitude), i];
  }

  string(i) {
    const s = this.s;
    const begin = i - 1;
    let out = "";
    for (;;) {
      let j = i;
      while (j < this.n) {
        const c = s.charCodeAt(j);
        if (c === 0x22 || c === 0x5c) break;
        if (c <= 0x1f) this.fail("Invalid control character at", j);
        j++;
      }
      if (j >= this.n) this.fail("Unterminated string starting at", begin);
      out += s.slice(i, j);
      if (s[j] === '"') return [out, j + 1];
      j++; // the backslash
      if (j >= this.n) this.fail("Unterminated string starting at", begin);
      const e = s[j];
      if (e !== "u") {
        const simple = {
          '"': '"',
          "\\": "\\",
          "/": "/",
          b: "\b",
          f: "\f",
          n: "\n",
          r: "\r",
          t: "\t",
        }[e];
        if (simple === undefined) this.fail("Invalid \\escape", j - 1);
        out += simple;
        i = j + 1;
        continue;
      }
      // \uXXXX, and a surrogate pair written as two escapes is one character.
      const end = j + 5;
      if (end >= this.n) this.fail("Invalid \\uXXXX escape", j);
      let code = this.hex4(j + 1, j);
      i = end;
      if (isHigh(code) && end + 6 < this.n && s[end] === "\\" && s[end + 1] === "u") {
        const low = this.hex4(end + 2, end + 1);
        if (isLow(low)) {
          code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
          i = end + 6;
        }
      }
      out += String.fromCodePoint(code);
    }
  }

  hex4(at, errorAt) {
    const text = this.s.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(text)) this.fail("Invalid \\uXXXX escape", errorAt);
    return parseInt(text, 16);
  }

  object(i) {
    const s = this.s;
    const pairs = [];
    i = this.skip(i);
    if (i >= this.n || s[i] !== "}") {
      for (;;) {
        if (i >= this.n || s[i] !== '"') {
          this.fail("Expecting property name enclosed in double quotes", i);
        }
        const [key, afterKey] = this.string(i + 1);
        i = this.skip(afterKey);
        if (i >= this.n || s[i] !== ":") this.fail("Expecting ':' delimiter", i);
        const [value, afterValue] = this.value(this.skip(i + 1));
        pairs.push([key, value]);
        i = this.skip(afterValue);
        if (i < this.n && s[i] === "}") break;
        if (i >= this.n || s[i] !== ",") this.fail("Expecting ',' delimiter", i);
        i = this.skip(i + 1);
      }
    }
    return [dictOf(pairs), i + 1];
  }

  array(i) {
    const s = this.s;
    const out = [];
    i = this.skip(i);
    if (i < this.n && s[i] === "]") return [out, i + 1];
    for (;;) {
      const [value, after] = this.value(i);
      out.push(value);
      i = this.skip(after);
      if (i < this.n && s[i] === "]") return [out, i + 1];
      if (i >= this.n || s[i] !== ",") this.fail("Expecting ',' delimiter", i);
      i = this.skip(i + 1);
    }
  }
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

/** strict._pairs_hook: an object from its pairs, refusing a key twice. */
function dictOf(pairs) {
  const seen = new Set();
  for (const [k] of pairs) {
    if (seen.has(k)) raise("ValueError", `key ${strRepr(k)} occurs twice in one object`);
    seen.add(k);
  }
  const ordered = !pairs.some(([k]) => ARRAY_INDEX.test(k) && Number(k) < 4294967295);
  if (!ordered) return new Map(pairs);
  const out = Object.create(null);
  for (const [k, v] of pairs) out[k] = v;
  return out;
}

/**
 * Read a proof as `ssj draw verify` does (spelling.load): at most MAX_PROOF_BYTES of UTF-8,
 * nested at most MAX_JSON_DEPTH deep, JSON with no key twice in an object and no NaN or
 * Infinity, and exactly the canonical JSON of what it holds (one spelling: as the service
 * serves it). `text` is a string, or the file's bytes (Uint8Array or ArrayBuffer), which
 * must be UTF-8. Throws an Error whose message is Python's.
 */
export function parseProofText(text) {
  try {
    if (!isStr(text)) {
      const bytes = text instanceof ArrayBuffer ? new Uint8Array(text) : text;
      if (bytes.length > MAX_PROOF_BYTES) raise("ValueError", proofTooLarge());
      text = decodeUtf8(bytes);
    } else {
      if (LONE_SURROGATE.test(text)) utf8(text); // never the decoding of a UTF-8 file
      if (utf8Longer(text, MAX_PROOF_BYTES)) raise("ValueError", proofTooLarge());
    }
    const depth = jsonDepth(text);
    if (depth > MAX_JSON_DEPTH) {
      raise(
        "ValueError",
        `the JSON nests ${depth} levels deep; a proof nests at most ${MAX_JSON_DEPTH}`,
      );
    }
    const value = new JsonReader(text).read();
    const written = jsonDumps(value, true);
    if (written !== text) {
      raise(
        "ValueError",
        "the proof is not written as the service writes it (canonical JSON: keys sorted, no " +
          "spaces or line breaks, no needless escapes): it differs from that at character " +
          firstDifference(text, written),
      );
    }
    return value;
  } catch (error) {
    if (error instanceof PyError) throw new Error(error.message);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------
// spelling: one spelling only (the file's cap, nesting and canonical JSON; times)
// ---------------------------------------------------------------------------------------

// The largest proof file read at all (spelling.MAX_PROOF_BYTES, which says why: a full
// proof of about 5 million subjects; under the longest string V8 holds, 2^29 - 24).
export const MAX_PROOF_BYTES = 500000000;
const MAX_JSON_DEPTH = 32; // honest proofs nest 6 deep
const MAX_POOL_SIZE = 10000000; // a public proof's virtual pool (spelling.MAX_POOL_SIZE)
const TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?\+00:00$/;
const TIME_FORM = "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00";

/** Why a file over the cap is not read (portal.js says it before reading a file). */
export function proofTooLarge() {
  return `a proof file is at most ${withCommas(MAX_PROOF_BYTES)} bytes; this one is larger`;
}

/** Whether `s` takes more than `limit` bytes in UTF-8 (no lone surrogates in it). */
function utf8Longer(s, limit) {
  if (s.length > limit) return true; // a byte at least per UTF-16 unit
  if (s.length * 3 <= limit) return false;
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n > limit;
}

/** spelling.json_depth: how deep arrays and objects nest, counted outside strings (a
 * string runs to its closing quote, a backslash escaping the next character, or to the
 * end), from 0, the deepest prefix. */
function jsonDepth(s) {
  let depth = 0;
  let deepest = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < n; i++) {
        const d = s.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

/** Where two different texts first differ, in characters (code points, as Python). */
function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i > 0 && isHigh(a.charCodeAt(i - 1))) i--; // within a pair: the pair's character
  return cpLength(a.slice(0, i));
}

/** spelling.time_spelled: written as the service writes times, isoformat() in UTC. */
const timeSpelled = (text) => TIME.test(text) && !text.endsWith(".000000+00:00");

/** spelling.document_problems: exactly the keys of the proof's form (§10). */
const PUBLIC_PROOF_KEYS = [
  "announcement",
  "announcement_hash",
  "opened",
  "secret",
  "entropy",
  "executed_at",
  "replacements",
  "result",
];
const FULL_PROOF_KEYS = [
  ...PUBLIC_PROOF_KEYS.filter((k) => k !== "opened"),
  "full_announcement",
  "blinding_key",
  "pool",
];
const V2_PROOF_KEYS = [
  ...PUBLIC_PROOF_KEYS.filter((k) => k !== "opened" && k !== "executed_at"),
  "pool",
];

function documentProblems(proof) {
  const announcement = get(proof, "announcement");
  const v2 = isDict(announcement) && pyEq(get(announcement, "protocol"), PROTOCOL_V2);
  const full = hasKey(proof, "full_announcement");
  // A pool in a public proof is named on its own; the first v2 proofs had no executed_at.
  const [form, keys, optional] = v2
    ? ["an ssj-draw-2", V2_PROOF_KEYS, ["executed_at"]]
    : full
      ? ["a full", FULL_PROOF_KEYS, []]
      : ["a public", PUBLIC_PROOF_KEYS, ["pool"]];
  const problems = [];
  const extra = keysOf(proof)
    .filter((k) => !keys.includes(k) && !optional.includes(k))
    .sort(cmpStr);
  if (extra.length) problems.push(`proof: ${repr(extra)} are not part of ${form} proof`);
  const missing = keys.filter((k) => !hasKey(proof, k)).sort(cmpStr);
  if (missing.length) problems.push(`proof: ${repr(missing)} are missing`);
  if (hasKey(proof, "replacements") && !isList(get(proof, "replacements")))
    problems.push("replacements: must be a list");
  return problems;
}

/** spelling.pool_line_problems: every pool line has exactly three tabs. */
function poolLineProblems(lines) {
  for (const [n, line] of lines.entries()) {
    const tabs = line.split("\t").length - 1;
    if (tabs !== 3) {
      return [
        `pool line ${n}: ${tabs} tabs where four tab-separated fields need 3 (identifier, ` +
          "stratum, region, unit)",
      ];
    }
  }
  return [];
}

/** bytes.decode("utf-8"), naming the first bad sequence as Python does (the longest
 * start of a valid sequence, then why it ends there). A BOM is kept: json.loads names it. */
function decodeUtf8(data) {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const [start, end, reason] = utf8Error(bytes);
    const what =
      end - start === 1
        ? `byte 0x${hexDigits(bytes[start], 2)} in position ${start}`
        : `bytes in position ${start}-${end - 1}`;
    raise("UnicodeDecodeError", `'utf-8' codec can't decode ${what}: ${reason}`);
  }
}

/** [start, end, reason] of the first ill-formed sequence of UTF-8 bytes. */
function utf8Error(bytes) {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    if (b < 0x80) {
      i += 1;
      continue;
    }
    if (b < 0xc2 || b > 0xf4) return [i, i + 1, "invalid start byte"];
    const length = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    // The second byte's range excludes overlong forms, surrogates and beyond U+10FFFF.
    const low = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const high = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < length; k++) {
      if (i + k >= bytes.length) return [i, bytes.length, "unexpected end of data"];
      const c = bytes[i + k];
      if (c < (k === 1 ? low : 0x80) || c > (k === 1 ? high : 0xbf)) {
        return [i, i + k, "invalid continuation byte"];
      }
    }
    i += length;
  }
  return [0, 1, "invalid start byte"];
}

// ---------------------------------------------------------------------------------------
// Digests: SHA-256 and SHA-1 by WebCrypto; SHAKE-256 and MD5, which WebCrypto lacks
// ---------------------------------------------------------------------------------------

const HEX = Array.from({ length: 256 }, (_, i) => hexDigits(i, 2));

function toHex(bytes) {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

/** Bytes of a string already known to be an even number of hex digits. */
function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}

function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const ascii = (s) => textEncoder.encode(s);

async function sha256(bytes) {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes));
}

async function sha1(bytes) {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-1", bytes));
}

/** Python's bytes.fromhex(text): pairs of hex digits, ASCII whitespace between pairs;
 * the ValueError names the first position that is not. */
function fromhex(text) {
  if (!isStr(text)) {
    raise(
      "TypeError",
      `fromhex() argument must be str, not ${isNone(text) ? "None" : typeName(text)}`,
    );
  }
  const chars = codePoints(text);
  const bad = (at) =>
    raise("ValueError", `non-hexadecimal number found in fromhex() arg at position ${at}`);
  const nonAscii = chars.findIndex((c) => c.codePointAt(0) >= 128);
  if (nonAscii >= 0) bad(nonAscii);
  const space = (c) =>
    c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\x0b" || c === "\x0c";
  const value = (c) => (c !== undefined && /^[0-9a-fA-F]$/.test(c) ? parseInt(c, 16) : -1);
  const out = [];
  let i = 0;
  while (i < chars.length) {
    if (space(chars[i])) {
      while (i < chars.length && space(chars[i])) i++;
      if (i >= chars.length) break;
    }
    const top = value(chars[i]);
    if (top < 0) bad(i);
    const bottom = value(chars[i + 1]);
    if (bottom < 0) bad(i + 1);
    out.push(top * 16 + bottom);
    i += 2;
  }
  return Uint8Array.from(out);
}

// Keccak-f[1600] on 25 lanes of two 32-bit halves (lo, hi), for SHAKE-256.
const KECCAK_ROUNDS = [
  0x1n,
  0x8082n,
  0x800000000000808an,
  0x8000000080008000n,
  0x808bn,
  0x80000001n,
  0x8000000080008081n,
  0x8000000000008009n,
  0x8an,
  0x88n,
  0x80008009n,
  0x8000000an,
  0x8000808bn,
  0x800000000000008bn,
  0x8000000000008089n,
  0x8000000000008003n,
  0x8000000000008002n,
  0x8000000000000080n,
  0x800an,
  0x800000008000000an,
  0x8000000080008081n,
  0x8000000000008080n,
  0x80000001n,
  0x8000000080008008n,
].map((c) => [Number(c & 0xffffffffn), Number(c >> 32n)]);
// Rotation of lane x + 5y (rho).
const KECCAK_ROT = [
  0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14,
];

function keccakF(lo, hi) {
  const cLo = new Uint32Array(5);
  const cHi = new Uint32Array(5);
  const bLo = new Uint32Array(25);
  const bHi = new Uint32Array(25);
  for (const [rcLo, rcHi] of KECCAK_ROUNDS) {
    for (let x = 0; x < 5; x++) {
      cLo[x] = lo[x] ^ lo[x + 5] ^ lo[x + 10] ^ lo[x + 15] ^ lo[x + 20];
      cHi[x] = hi[x] ^ hi[x + 5] ^ hi[x + 10] ^ hi[x + 15] ^ hi[x + 20];
    }
    for (let x = 0; x < 5; x++) {
      const p = (x + 4) % 5;
      const q = (x + 1) % 5;
      const dLo = cLo[p] ^ ((cLo[q] << 1) | (cHi[q] >>> 31));
      const dHi = cHi[p] ^ ((cHi[q] << 1) | (cLo[q] >>> 31));
      for (let y = 0; y < 25; y += 5) {
        lo[x + y] ^= dLo;
        hi[x + y] ^= dHi;
      }
    }
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        const from = x + 5 * y;
        const to = y + 5 * ((2 * x + 3 * y) % 5);
        let r = KECCAK_ROT[from];
        let l = lo[from];
        let h = hi[from];
        if (r >= 32) {
          [l, h] = [h, l];
          r -= 32;
        }
        if (r) [l, h] = [(l << r) | (h >>> (32 - r)), (h << r) | (l >>> (32 - r))];
        bLo[to] = l;
        bHi[to] = h;
      }
    }
    for (let y = 0; y < 25; y += 5) {
      for (let x = 0; x < 5; x++) {
        const a = ((x + 1) % 5) + y;
        const b = ((x + 2) % 5) + y;
        lo[x + y] = bLo[x + y] ^ (~bLo[a] & bLo[b]);
        hi[x + y] = bHi[x + y] ^ (~bHi[a] & bHi[b]);
      }
    }
    lo[0] ^= rcLo;
    hi[0] ^= rcHi;
  }
}

/** SHAKE-256(input), `length` bytes (FIPS 202: rate 136 bytes, domain bits 1111). */
function shake256(input, length) {
  const rate = 136;
  const lo = new Uint32Array(25);
  const hi = new Uint32Array(25);
  const padded = new Uint8Array(Math.floor(input.length / rate) * rate + rate);
  padded.set(input);
  padded[input.length] ^= 0x1f;
  padded[padded.length - 1] ^= 0x80;
  for (let block = 0; block < padded.length; block += rate) {
    for (let i = 0; i < rate; i++) {
      const lane = i >> 3;
      const shift = 8 * (i & 3);
      if (i & 4) hi[lane] ^= padded[block + i] << shift;
      else lo[lane] ^= padded[block + i] << shift;
    }
    keccakF(lo, hi);
  }
  const out = new Uint8Array(length);
  for (let at = 0; ; keccakF(lo, hi)) {
    for (let i = 0; i < rate && at < length; i++) {
      const word = i & 4 ? hi[i >> 3] : lo[i >> 3];
      out[at++] = (word >>> (8 * (i & 3))) & 0xff;
    }
    if (at >= length) return out;
  }
}

const MD5_K = [
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];
const MD5_S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

/** MD5 (RFC 1321), for RFC 3797's rounds. */
function md5(input) {
  const length = Math.ceil((input.length + 9) / 64) * 64;
  const data = new Uint8Array(length);
  data.set(input);
  data[input.length] = 0x80;
  const view = new DataView(data.buffer);
  view.setUint32(length - 8, (input.length * 8) >>> 0, true);
  view.setUint32(length - 4, Math.floor(input.length / 0x20000000), true);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  for (let block = 0; block < length; block += 64) {
    let [a, b, c, d] = h;
    for (let i = 0; i < 64; i++) {
      let f;
      let g;
      if (i < 16) [f, g] = [(b & c) | (~b & d), i];
      else if (i < 32) [f, g] = [(d & b) | (~d & c), (5 * i + 1) % 16];
      else if (i < 48) [f, g] = [b ^ c ^ d, (3 * i + 5) % 16];
      else [f, g] = [c ^ (b | ~d), (7 * i) % 16];
      const s = MD5_S[(i >> 4) * 4 + (i % 4)];
      const sum = (a + f + MD5_K[i] + view.getUint32(block + 4 * g, true)) >>> 0;
      [a, d, c] = [d, c, b];
      b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0;
    }
    h[0] = (h[0] + a) >>> 0;
    h[1] = (h[1] + b) >>> 0;
    h[2] = (h[2] + c) >>> 0;
    h[3] = (h[3] + d) >>> 0;
  }
  const out = new Uint8Array(16);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(4 * i, word, true));
  return out;
}

// ---------------------------------------------------------------------------------------
// canonical: text fields, canonical JSON, hashes, commitment, seed
// ---------------------------------------------------------------------------------------

const PROTOCOL_V2 = "ssj-draw-2";
const PROTOCOL_V3 = "ssj-draw-3";
const PROTOCOLS = [PROTOCOL_V2, PROTOCOL_V3];
const SHA256_SELECTION = "sha256";
const RFC3797_SELECTION = "rfc3797";
const FULL_LIST = "*"; // the 100 % list (全覆盖)
const STRATA = ["A", "B", "C", "D"];
const ORDER = [FULL_LIST, ...STRATA]; // the strata, each its own tree, in this order

/** A text field in canonical form: NFC, runs of whitespace one space, no ends (§2). */
function field(text) {
  if (!isStr(text)) raise("TypeError", `normalize() argument 2 must be str, not ${typeName(text)}`);
  return splitWhitespace(normalized(text, "NFC")).join(" ");
}

/** (identifier, stratum, region_code, supervising_unit) of a pool line. */
function splitLine(line) {
  const parts = line.split("\t");
  if (parts.length !== 4) {
    raise(
      "ValueError",
      `a pool line has 4 tab-separated fields, not ${parts.length}: ${strRepr(line)}`,
    );
  }
  return parts;
}

const poolTextHash = async (text) => toHex(await sha256(utf8(text)));
const canonicalJson = (value) => utf8(jsonDumps(value, true));
const announcementHash = async (announcement) => toHex(await sha256(canonicalJson(announcement)));

/** SHA-256(secret): what is published of the secret before the draw. */
async function commitment(secret) {
  if (secret.length !== 32) raise("ValueError", "the secret is 32 bytes");
  return toHex(await sha256(secret));
}

/** The seed of an ssj-draw-2 draw: the entropy as typed, in canonical form. */
async function deriveSeed(announced, secret, entropy) {
  if (secret.length !== 32) raise("ValueError", "the secret is 32 bytes");
  const text = field(entropy);
  if (!text) raise("ValueError", "the public entropy must not be empty");
  const material = concatBytes(ascii(PROTOCOL_V2), [0], hexToBytes(announced), secret, utf8(text));
  return sha256(material);
}

/** The seed of an ssj-draw-3 draw: the entropy's numbers as data (§5). */
async function deriveSeedV3(announced, secret, entropy) {
  if (secret.length !== 32) raise("ValueError", "the secret is 32 bytes");
  if (!entropy.length) raise("ValueError", "the public entropy must not be empty");
  return sha256(concatBytes(ascii(PROTOCOL_V3), [0], hexToBytes(announced), secret, entropy));
}

// ---------------------------------------------------------------------------------------
// merkle: RFC 9162 trees over leaf hashes
// ---------------------------------------------------------------------------------------

const EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; // SHA-256("")

const merkleNode = (left, right) => sha256(concatBytes([1], left, right));

/** Every level of the tree, leaves first: pairs from the left, an odd last one carried up. */
async function merkleLevels(leaves) {
  const out = [leaves];
  while (out[out.length - 1].length > 1) {
    const level = out[out.length - 1];
    const pairs = [];
    for (let i = 0; i + 1 < level.length; i += 2) pairs.push(merkleNode(level[i], level[i + 1]));
    const upper = await Promise.all(pairs);
    if (level.length % 2) upper.push(level[level.length - 1]);
    out.push(upper);
  }
  return out;
}

/** The root an inclusion path leads to (RFC 9162 §2.1.3.2), or null when it cannot be a
 * path of leaf `index` in a tree of `size` (BigInt arithmetic: sizes are any int). */
async function rootFromPath(leaf, index, size, path) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn < 0n || fn > sn) return null;
  let r = leaf;
  for (const p of path) {
    if (sn === 0n) return null;
    if (fn & 1n || fn === sn) {
      r = await merkleNode(p, r);
      if (!(fn & 1n)) {
        while (fn && !(fn & 1n)) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await merkleNode(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n ? r : null;
}

// ---------------------------------------------------------------------------------------
// stream: the SHA-256 generator and unbiased sampling (§6)
// ---------------------------------------------------------------------------------------

const TWO64 = 1n << 64n;

function u64be(n) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/** Block i of (seed, label) is SHA-256(seed ‖ UTF-8(label) ‖ u64be(i)): four unsigned
 * 64-bit big-endian integers, used in order. */
class Stream {
  constructor(seed, label) {
    this.prefix = concatBytes(seed, utf8(label));
    this.counter = 0;
    this.values = [];
    this.next = 0;
    this.batch = 1;
  }

  async nextU64() {
    if (this.next === this.values.length) {
      // A stream is read in order: hashing the next few blocks together costs less than
      // a round trip to WebCrypto for each (the batch grows with the stream's use).
      const count = this.batch;
      this.batch = Math.min(2 * this.batch, 64);
      const blocks = await Promise.all(
        Array.from({ length: count }, (_, k) =>
          sha256(concatBytes(this.prefix, u64be(this.counter + k))),
        ),
      );
      this.counter += count;
      this.values = [];
      this.next = 0;
      for (const block of blocks) {
        const view = new DataView(block.buffer);
        for (let w = 0; w < 4; w++) this.values.push(view.getBigUint64(8 * w));
      }
    }
    return this.values[this.next++];
  }

  /** A uniform integer in [0, n), rejecting the top sliver (no modulo bias). */
  async below(n) {
    const m = BigInt(n);
    if (m < 1n || m > TWO64) raise("ValueError", `n must be in [1, 2**64], not ${n}`);
    const limit = TWO64 - (TWO64 % m);
    for (;;) {
      const value = await this.nextU64();
      if (value < limit) return smallInt(value % m);
    }
  }
}

/** k distinct positions of 0 … n−1 in draw order: a partial Fisher–Yates shuffle. */
async function sample(stream, n, k) {
  if (!(k >= 0 && k <= n)) raise("ValueError", `cannot draw ${k} of ${n}`);
  const moved = new Map();
  const at = (i) => (moved.has(i) ? moved.get(i) : i);
  const out = [];
  for (let i = 0; i < k; i++) {
    const j = i + (await stream.below(n - i));
    out.push(at(j));
    moved.set(j, at(i));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// subjects: the 100 % list, then each class drawn (§7)
// ---------------------------------------------------------------------------------------

/** Decimal(text) as an exact fraction [numerator, denominator] (BigInt); "nan" or "inf"
 * for those; null when Decimal refuses the text. CPython first rewrites the text: ends'
 * whitespace dropped, underscores dropped, other whitespace a space, digits of any script
 * as ASCII (numeric_as_ascii); then the decimal syntax. */
function decimalOf(text) {
  let plain = "";
  for (const ch of codePoints(text.replace(SPACE_EDGES, ""))) {
    const cp = ch.codePointAt(0);
    if (ch === "_") continue;
    if (cp > 0 && cp <= 127) plain += ch;
    else if (IS_SPACE.test(ch)) plain += " ";
    else {
      const d = decimalValue(ch);
      if (d < 0) return null;
      plain += String(d);
    }
  }
  if (/^[+-]?(?:inf|infinity)$/i.test(plain)) return "inf";
  if (/^[+-]?s?nan[0-9]*$/i.test(plain)) return "nan";
  const m = /^([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?$/.exec(plain);
  if (!m) return null;
  const fraction = m[3] ?? m[4] ?? "";
  let coefficient = BigInt((m[2] ?? "") + fraction);
  if (m[1] === "-") coefficient = -coefficient;
  const exponent = BigInt(m[5] ?? "0") - BigInt(fraction.length);
  return exponent >= 0n ? [coefficient * 10n ** exponent, 1n] : [coefficient, 10n ** -exponent];
}

/** A ratio written as a decimal in (0, 1], exactly (subjects.parse_ratio). */
function parseRatio(text) {
  const value = decimalOf(pyStr(text));
  if (!isList(value)) raise("ValueError", `ratio ${repr(text)} is not a decimal number`);
  const [num, den] = value;
  if (!(num > 0n && num <= den)) raise("ValueError", `ratio ${pyStr(text)} is not in (0, 1]`);
  return value;
}

/** How many of a stratum's `members` to draw under {"ratio": …} or {"count": …}. */
function stratumCount(members, rule) {
  if (contains(rule, "count")) {
    const count = pyInt(item(rule, "count"));
    if (count < 0) raise("ValueError", "a stratum count must not be negative");
    return minInt(members, count);
  }
  const [num, den] = parseRatio(item(rule, "ratio"));
  return minInt(members, smallInt((BigInt(members) * num + den - 1n) / den));
}

/** The identifier of the pool's line `at` (a list of lines, or an OpenedPool). */
function identifierAt(lines, at) {
  const line = lineAt(lines, at);
  const tab = line.indexOf("\t");
  if (tab < 0) raise("ValueError", "substring not found");
  return line.slice(0, tab);
}

function lineAt(lines, at) {
  if (lines instanceof OpenedPool) return lines.at(at);
  return item(lines, at);
}

/** The selection (picked subjects: identifier, stratum, position) and, per stratum, its
 * size and count; `draw(stratum, n, k)` gives k indexes into the stratum's members. */
async function selectBy(lines, strata, members, draw) {
  const unknown = new Map();
  for (const name of iter(strata)) {
    const key = hashKey(name);
    if (!STRATA.includes(name) && !unknown.has(key)) unknown.set(key, name);
  }
  if (unknown.size) raise("ValueError", `unknown strata ${repr(pySorted(unknown.values()))}`);
  const pick = (position, stratum) => ({
    identifier: identifierAt(lines, position),
    stratum,
    position,
  });
  const picked = memberList(members[FULL_LIST]).map((p) => pick(p, FULL_LIST));
  const size = members[FULL_LIST].length;
  const summary = { [FULL_LIST]: { pool: size, count: size } };
  for (const stratum of STRATA) {
    const pool = members[stratum];
    const count = contains(strata, stratum) ? stratumCount(pool.length, item(strata, stratum)) : 0;
    summary[stratum] = { pool: pool.length, count };
    for (const p of await draw(stratum, pool.length, count))
      picked.push(pick(memberAt(pool, p), stratum));
  }
  return [picked, summary];
}

/** The SHA-256 selection: stratum s sampled on the stream "subjects/<s>". */
function selectSubjects(seed, lines, strata, members) {
  return selectBy(lines, strata, members, (stratum, n, k) =>
    sample(new Stream(seed, `subjects/${stratum}`), n, k),
  );
}

/** The RFC 3797 selection: one round counter running on across the strata. */
function selectRfc3797(sources, lines, strata, members) {
  const key = canonicalKey(sources);
  let rounds = 0;
  const draw = async (stratum, size, count) => {
    if (count && size > RFC3797_MAX_POOL) {
      raise(
        "ValueError",
        `stratum ${stratum} has ${size} members; RFC 3797 draws from at most ${RFC3797_MAX_POOL}`,
      );
    }
    if (rounds + count > RFC3797_MAX_POOL + 1) {
      raise("ValueError", `RFC 3797 allows at most ${RFC3797_MAX_POOL + 1} rounds in a draw`);
    }
    const remaining = count ? Array.from({ length: size }, (_, i) => i) : [];
    const drawn = [];
    for (let r = 0; r < count; r++) {
      const value = BigInt("0x" + toHex(roundDigest(key, rounds)));
      drawn.push(remaining.splice(Number(value % BigInt(remaining.length)), 1)[0]);
      rounds += 1;
    }
    return drawn;
  };
  return selectBy(lines, strata, members, draw);
}

/** Each stratum's line indexes, in pool order. */
function stratumMembers(lines) {
  const members = { [FULL_LIST]: [], A: [], B: [], C: [], D: [] };
  const column = lines.map((line) => {
    const parts = line.split("\t", 2);
    if (parts.length < 2) raise("ValueError", "every pool line has 4 tab-separated fields");
    return parts[1];
  });
  column.forEach((stratum, position) => {
    if (!Object.hasOwn(members, stratum)) {
      raise(
        "ValueError",
        `pool line ${position} has no valid stratum: ${strRepr(lines[position])}`,
      );
    }
    members[stratum].push(position);
  });
  return members;
}

// ---------------------------------------------------------------------------------------
// rfc3797: RFC 3797's key and rounds (§12)
// ---------------------------------------------------------------------------------------

const RFC3797_MAX_POOL = 65535;

/** One source as RFC 3797 §4 writes it: its numbers sorted, "N." each, "/" at the end. */
function sourcePart(position, source) {
  if (!isStr(source))
    raise("ValueError", `source ${position} must be a string, not ${typeName(source)}`);
  const tokens = splitWhitespace(source);
  if (!tokens.length) raise("ValueError", `source ${position} is empty: give at least one number`);
  const numbers = tokens.map((token) => {
    if (!/^[0-9]+$/.test(token)) {
      raise(
        "ValueError",
        `source ${position}: ${strRepr(token)} is not a whole number; RFC 3797 sources are ` +
          "non-negative whole numbers in ASCII digits 0-9, separated by spaces",
      );
    }
    return bigDigits(token);
  });
  numbers.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return numbers.map((n) => `${n}.`).join("") + "/";
}

function canonicalKey(sources) {
  if (isStr(sources)) {
    raise("ValueError", "sources must be a sequence of strings, one per source, not one string");
  }
  if (sources.length === 0) raise("ValueError", "at least one source of randomness is required");
  return sources.map((s, i) => sourcePart(i + 1, s)).join("");
}

/** ssj-draw-2: the sources of an entropy text, separated by "/" (a final "/" allowed). */
function parseSources(entropy) {
  if (!isStr(entropy))
    raise("AttributeError", `'${typeName(entropy)}' object has no attribute 'split'`);
  const sources = entropy.split("/").map((part) => part.replace(SPACE_EDGES, ""));
  if (sources.length && !sources[sources.length - 1]) sources.pop();
  canonicalKey(sources);
  return sources;
}

/** MD5(u16be(i) ‖ key ‖ u16be(i)): round i of RFC 3797. */
function roundDigest(key, round) {
  const counter = [round >> 8, round & 0xff];
  return md5(concatBytes(counter, ascii(key), counter));
}

// ---------------------------------------------------------------------------------------
// entropy: the source's numbers as data (§5a)
// ---------------------------------------------------------------------------------------

const SEPARATORS = new Set([",", "+", "/", "|", ";", "、", "·"]);
const SORTED_SEPARATORS = "+,/;|·、";
const MIN_OUTCOMES = 10000000n;
const MAX_GROUPS = 8;
const MAX_NUMBERS = 64;
const MAX_VALUE = 1000000;

function checkInt(value, name) {
  if (!isInt(value)) raise("ValueError", `${name} must be an integer, not ${repr(value)}`);
}

function withCommas(n) {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function choose(n, k) {
  let out = 1n;
  for (let i = 1n; i <= k; i++) out = (out * (n - k + i)) / i;
  return out;
}

/** The shape of the numbers a public source publishes at each drawing. */
class EntropyFormat {
  /** `groups`: [{name, count, low, high, ordered}], checked as the reference's
   * EntropyFormat.__post_init__ checks them. */
  constructor(groups) {
    if (!(groups.length >= 1 && groups.length <= MAX_GROUPS)) {
      raise("ValueError", `a format has 1 to ${MAX_GROUPS} groups`);
    }
    if (new Set(groups.map((g) => g.name)).size !== groups.length) {
      raise("ValueError", "group names must differ");
    }
    let total = 0n;
    for (const g of groups) {
      checkInt(g.count, "count");
      checkInt(g.low, "low");
      checkInt(g.high, "high");
      if (!/^[A-Za-z0-9_]*$/.test(g.name) || !/[A-Za-z0-9]/.test(g.name)) {
        raise("ValueError", `group name ${strRepr(g.name)}: ASCII letters, digits and _ only`);
      }
      if (!(g.low >= 0 && g.low < g.high && g.high <= MAX_VALUE)) {
        raise("ValueError", `group ${g.name}: need 0 <= low < high <= ${MAX_VALUE}`);
      }
      if (g.count < 1) raise("ValueError", `group ${g.name}: count must be at least 1`);
      if (!g.ordered && BigInt(g.count) > BigInt(g.high) - BigInt(g.low) + 1n) {
        raise("ValueError", `group ${g.name}: ${g.count} distinct numbers do not fit`);
      }
      total += BigInt(g.count);
    }
    if (total > BigInt(MAX_NUMBERS))
      raise("ValueError", `a format has at most ${MAX_NUMBERS} numbers`);
    this.groups = groups.map((g) => ({
      ...g,
      count: Number(g.count),
      low: Number(g.low),
      high: Number(g.high),
    }));
  }

  /** Read a format strictly (exact keys and JSON types), as the verifier must. */
  static fromJson(value) {
    if (!isDict(value) || keysOf(value).length !== 1 || !hasKey(value, "groups")) {
      raise("ValueError", 'a format is {"groups": [...]} and nothing else');
    }
    const groups = get(value, "groups");
    if (!isList(groups)) raise("ValueError", "format groups must be a list");
    const keys = ["name", "count", "low", "high", "ordered"];
    const out = groups.map((g) => {
      if (!isDict(g) || !sameKeys(g, keys)) {
        raise("ValueError", "a group has exactly name, count, low, high and ordered");
      }
      if (!isStr(get(g, "name")) || !isBool(get(g, "ordered"))) {
        raise("ValueError", "a group's name is a string and ordered a boolean");
      }
      return Object.fromEntries(keys.map((k) => [k, get(g, k)]));
    });
    return new EntropyFormat(out);
  }

  get size() {
    return this.groups.reduce((n, g) => n + g.count, 0);
  }

  /** How many different results one drawing can have. */
  get outcomes() {
    let total = 1n;
    for (const g of this.groups) {
      const width = BigInt(g.high - g.low + 1);
      total *= g.ordered ? width ** BigInt(g.count) : choose(width, BigInt(g.count));
    }
    return total;
  }

  /** Why a drawing of this shape is too small a source of entropy (null: it is not). */
  weakness() {
    const outcomes = this.outcomes;
    if (outcomes >= MIN_OUTCOMES) return null;
    return (
      `a drawing of this format has ${withCommas(outcomes)} possible results; a draw ` +
      `needs a source of at least ${withCommas(MIN_OUTCOMES)} (福彩双色球 has 17,721,088), or ` +
      "whoever fixes the secret could pick one that favours a chosen company"
    );
  }

  asJson() {
    return {
      groups: this.groups.map(({ name, count, low, high, ordered }) => ({
        name,
        count,
        low,
        high,
        ordered,
      })),
    };
  }

  equals(other) {
    return (
      this.groups.length === other.groups.length &&
      this.groups.every((g, i) => {
        const h = other.groups[i];
        return (
          g.name === h.name &&
          g.count === h.count &&
          g.low === h.low &&
          g.high === h.high &&
          g.ordered === h.ordered
        );
      })
    );
  }
}

/** Whether a dict's keys are exactly `keys`. */
function sameKeys(d, keys) {
  const own = keysOf(d);
  return own.length === keys.length && keys.every((k) => hasKey(d, k));
}

const shape = (...groups) =>
  new EntropyFormat(
    groups.map(([name, count, low, high, ordered]) => ({ name, count, low, high, ordered })),
  );

// The lotteries a draw may name by code, with the shape their publishers publish.
const LOTTERIES = {
  "cwl-ssq": ["中国福利彩票双色球", shape(["red", 6, 1, 33, false], ["blue", 1, 1, 16, false])],
  "cwl-qlc": [
    "中国福利彩票七乐彩",
    shape(["basic", 7, 1, 30, false], ["special", 1, 1, 30, false]),
  ],
  "cwl-kl8": ["中国福利彩票快乐8", shape(["numbers", 20, 1, 80, false])],
  "slt-dlt": [
    "中国体育彩票超级大乐透",
    shape(["front", 5, 1, 35, false], ["back", 2, 1, 12, false]),
  ],
  "slt-qxc": ["中国体育彩票七星彩", shape(["digits", 6, 0, 9, true], ["last", 1, 0, 14, false])],
};

/** Why a source's declared format is not its lottery's (null: it is, or no lottery). */
function lotteryProblem(source, fmt) {
  const known = Object.hasOwn(LOTTERIES, source) ? LOTTERIES[source] : null;
  if (known && !known[1].equals(fmt)) {
    return `${source} is ${known[0]}, whose drawings publish ${repr(known[1].asJson())}, not ${repr(fmt.asJson())}`;
  }
  return null;
}

/** The runs of digits of the text (NFKC), refusing anything but digits and separators. */
function entropyTokens(text) {
  const folded = codePoints(normalized(text, "NFKC"));
  const tokens = [];
  let current = "";
  for (let i = 0; i < folded.length; i++) {
    const ch = folded[i];
    const cp = ch.codePointAt(0);
    if (cp >= 0x30 && cp <= 0x39) {
      current += ch;
      continue;
    }
    if (current) tokens.push(current);
    current = "";
    if (SEPARATORS.has(ch) || ch === " " || ch === "\t" || ch === "\n" || ch === "\r") continue;
    raise(
      "EntropyError",
      `character ${i + 1} (${unicodeName(ch)}) is not a digit or a separator: type the numbers ` +
        `only, separated by spaces or one of ${SORTED_SEPARATORS} (输入开奖号码本身，不含文字)`,
    );
  }
  if (current) tokens.push(current);
  return tokens;
}

/** The numbers a text gives for a source of this format (entropy.parse_numbers). */
function parseNumbers(fmt, text) {
  const tokens = entropyTokens(text);
  if (tokens.length !== fmt.size) {
    const groups = fmt.groups.map((g) => `${g.count} ${g.name}`).join(", ");
    raise(
      "EntropyError",
      `the source publishes ${fmt.size} numbers (${groups}); ${tokens.length} typed`,
    );
  }
  const numbers = [];
  let at = 0;
  for (const group of fmt.groups) {
    const chunk = tokens.slice(at, at + group.count).map(bigDigits);
    at += group.count;
    for (const n of chunk) {
      if (!(group.low <= n && n <= group.high)) {
        raise("EntropyError", `${group.name}: ${n} is outside ${group.low}-${group.high}`);
      }
    }
    if (!group.ordered && chunk.some((n, i) => i > 0 && chunk[i - 1] >= n)) {
      raise(
        "EntropyError",
        `${group.name}: the numbers of a set are published in ascending order, each once; read ${chunk.join(" ")}`,
      );
    }
    numbers.push(chunk);
  }
  return numbers;
}

/** What the seed hashes of the entropy: canonical JSON of the groups' numbers. */
const numbersBytes = (numbers) =>
  ascii("[" + numbers.map((g) => "[" + g.join(",") + "]").join(",") + "]");

/** The numbers as people read them: zero-padded to the group's widest, groups by " | ". */
function canonicalText(fmt, numbers) {
  return fmt.groups
    .map((g, i) => numbers[i].map((n) => String(n).padStart(String(g.high).length, "0")).join(" "))
    .join(" | ");
}

const rfc3797Sources = (numbers) => numbers.map((g) => g.join(" "));

/** The numbers of the proof's entropy, which must be written exactly in canonical form. */
function readCanonical(fmt, text) {
  const numbers = parseNumbers(fmt, text);
  const canonical = canonicalText(fmt, numbers);
  if (canonical !== text) {
    raise(
      "EntropyError",
      `entropy ${strRepr(text)} is not in canonical form ${strRepr(canonical)}`,
    );
  }
  return numbers;
}

// unicodedata.name() of the characters an operator might type among the numbers (the
// error names the first one that is neither a digit nor a separator): ASCII, Latin-1,
// General Punctuation, CJK Symbols and Punctuation and a few more; ideographs and Hangul
// syllables by rule. Any other character is named by its code, U+XXXX, as Python names
// one without a name (so the message differs from Python's only in that name).
const UNICODE_NAMES = new Map(
  (
    "21:EXCLAMATION MARK;22:QUOTATION MARK;23:NUMBER SIGN;24:DOLLAR SIGN;25:PERCENT SIGN;" +
    "26:AMPERSAND;27:APOSTROPHE;28:LEFT PARENTHESIS;29:RIGHT PARENTHESIS;2a:ASTERISK;" +
    "2b:PLUS SIGN;2c:COMMA;2d:HYPHEN-MINUS;2e:FULL STOP;2f:SOLIDUS;3a:COLON;3b:SEMICOLON;" +
    "3c:LESS-THAN SIGN;3d:EQUALS SIGN;3e:GREATER-THAN SIGN;3f:QUESTION MARK;40:COMMERCIAL AT;" +
    "5b:LEFT SQUARE BRACKET;5c:REVERSE SOLIDUS;5d:RIGHT SQUARE BRACKET;5e:CIRCUMFLEX ACCENT;" +
    "5f:LOW LINE;60:GRAVE ACCENT;7b:LEFT CURLY BRACKET;7c:VERTICAL LINE;7d:RIGHT CURLY BRACKET;" +
    "7e:TILDE;a1:INVERTED EXCLAMATION MARK;a2:CENT SIGN;a3:POUND SIGN;a4:CURRENCY SIGN;" +
    "a5:YEN SIGN;a6:BROKEN BAR;a7:SECTION SIGN;a9:COPYRIGHT SIGN;" +
    "ab:LEFT-POINTING DOUBLE ANGLE QUOTATION MARK;ac:NOT SIGN;ad:SOFT HYPHEN;" +
    "ae:REGISTERED SIGN;b0:DEGREE SIGN;b1:PLUS-MINUS SIGN;b6:PILCROW SIGN;b7:MIDDLE DOT;" +
    "bb:RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK;bf:INVERTED QUESTION MARK;" +
    "c0:LATIN CAPITAL LETTER A WITH GRAVE;c1:LATIN CAPITAL LETTER A WITH ACUTE;" +
    "c2:LATIN CAPITAL LETTER A WITH CIRCUMFLEX;c3:LATIN CAPITAL LETTER A WITH TILDE;" +
    "c4:LATIN CAPITAL LETTER A WITH DIAERESIS;c5:LATIN CAPITAL LETTER A WITH RING ABOVE;" +
    "c6:LATIN CAPITAL LETTER AE;c7:LATIN CAPITAL LETTER C WITH CEDILLA;" +
    "c8:LATIN CAPITAL LETTER E WITH GRAVE;c9:LATIN CAPITAL LETTER E WITH ACUTE;" +
    "ca:LATIN CAPITAL LETTER E WITH CIRCUMFLEX;cb:LATIN CAPITAL LETTER E WITH DIAERESIS;" +
    "cc:LATIN CAPITAL LETTER I WITH GRAVE;cd:LATIN CAPITAL LETTER I WITH ACUTE;" +
    "ce:LATIN CAPITAL LETTER I WITH CIRCUMFLEX;cf:LATIN CAPITAL LETTER I WITH DIAERESIS;" +
    "d0:LATIN CAPITAL LETTER ETH;d1:LATIN CAPITAL LETTER N WITH TILDE;" +
    "d2:LATIN CAPITAL LETTER O WITH GRAVE;d3:LATIN CAPITAL LETTER O WITH ACUTE;" +
    "d4:LATIN CAPITAL LETTER O WITH CIRCUMFLEX;d5:LATIN CAPITAL LETTER O WITH TILDE;" +
    "d6:LATIN CAPITAL LETTER O WITH DIAERESIS;d7:MULTIPLICATION SIGN;" +
    "d8:LATIN CAPITAL LETTER O WITH STROKE;d9:LATIN CAPITAL LETTER U WITH GRAVE;" +
    "da:LATIN CAPITAL LETTER U WITH ACUTE;db:LATIN CAPITAL LETTER U WITH CIRCUMFLEX;" +
    "dc:LATIN CAPITAL LETTER U WITH DIAERESIS;dd:LATIN CAPITAL LETTER Y WITH ACUTE;" +
    "de:LATIN CAPITAL LETTER THORN;df:LATIN SMALL LETTER SHARP S;" +
    "e0:LATIN SMALL LETTER A WITH GRAVE;e1:LATIN SMALL LETTER A WITH ACUTE;" +
    "e2:LATIN SMALL LETTER A WITH CIRCUMFLEX;e3:LATIN SMALL LETTER A WITH TILDE;" +
    "e4:LATIN SMALL LETTER A WITH DIAERESIS;e5:LATIN SMALL LETTER A WITH RING ABOVE;" +
    "e6:LATIN SMALL LETTER AE;e7:LATIN SMALL LETTER C WITH CEDILLA;" +
    "e8:LATIN SMALL LETTER E WITH GRAVE;e9:LATIN SMALL LETTER E WITH ACUTE;" +
    "ea:LATIN SMALL LETTER E WITH CIRCUMFLEX;eb:LATIN SMALL LETTER E WITH DIAERESIS;" +
    "ec:LATIN SMALL LETTER I WITH GRAVE;ed:LATIN SMALL LETTER I WITH ACUTE;" +
    "ee:LATIN SMALL LETTER I WITH CIRCUMFLEX;ef:LATIN SMALL LETTER I WITH DIAERESIS;" +
    "f0:LATIN SMALL LETTER ETH;f1:LATIN SMALL LETTER N WITH TILDE;" +
    "f2:LATIN SMALL LETTER O WITH GRAVE;f3:LATIN SMALL LETTER O WITH ACUTE;" +
    "f4:LATIN SMALL LETTER O WITH CIRCUMFLEX;f5:LATIN SMALL LETTER O WITH TILDE;" +
    "f6:LATIN SMALL LETTER O WITH DIAERESIS;f7:DIVISION SIGN;" +
    "f8:LATIN SMALL LETTER O WITH STROKE;f9:LATIN SMALL LETTER U WITH GRAVE;" +
    "fa:LATIN SMALL LETTER U WITH ACUTE;fb:LATIN SMALL LETTER U WITH CIRCUMFLEX;" +
    "fc:LATIN SMALL LETTER U WITH DIAERESIS;fd:LATIN SMALL LETTER Y WITH ACUTE;" +
    "fe:LATIN SMALL LETTER THORN;ff:LATIN SMALL LETTER Y WITH DIAERESIS;" +
    "34f:COMBINING GRAPHEME JOINER;61c:ARABIC LETTER MARK;115f:HANGUL CHOSEONG FILLER;" +
    "1160:HANGUL JUNGSEONG FILLER;180e:MONGOLIAN VOWEL SEPARATOR;200b:ZERO WIDTH SPACE;" +
    "200c:ZERO WIDTH NON-JOINER;200d:ZERO WIDTH JOINER;200e:LEFT-TO-RIGHT MARK;" +
    "200f:RIGHT-TO-LEFT MARK;2010:HYPHEN;2012:FIGURE DASH;2013:EN DASH;2014:EM DASH;" +
    "2015:HORIZONTAL BAR;2016:DOUBLE VERTICAL LINE;2018:LEFT SINGLE QUOTATION MARK;" +
    "2019:RIGHT SINGLE QUOTATION MARK;201a:SINGLE LOW-9 QUOTATION MARK;" +
    "201b:SINGLE HIGH-REVERSED-9 QUOTATION MARK;201c:LEFT DOUBLE QUOTATION MARK;" +
    "201d:RIGHT DOUBLE QUOTATION MARK;201e:DOUBLE LOW-9 QUOTATION MARK;" +
    "201f:DOUBLE HIGH-REVERSED-9 QUOTATION MARK;2020:DAGGER;2021:DOUBLE DAGGER;2022:BULLET;" +
    "2023:TRIANGULAR BULLET;2027:HYPHENATION POINT;2028:LINE SEPARATOR;" +
    "2029:PARAGRAPH SEPARATOR;202a:LEFT-TO-RIGHT EMBEDDING;202b:RIGHT-TO-LEFT EMBEDDING;" +
    "202c:POP DIRECTIONAL FORMATTING;202d:LEFT-TO-RIGHT OVERRIDE;202e:RIGHT-TO-LEFT OVERRIDE;" +
    "2030:PER MILLE SIGN;2031:PER TEN THOUSAND SIGN;2032:PRIME;2035:REVERSED PRIME;2038:CARET;" +
    "2039:SINGLE LEFT-POINTING ANGLE QUOTATION MARK;" +
    "203a:SINGLE RIGHT-POINTING ANGLE QUOTATION MARK;203b:REFERENCE MARK;203d:INTERROBANG;" +
    "203f:UNDERTIE;2040:CHARACTER TIE;2041:CARET INSERTION POINT;2042:ASTERISM;" +
    "2043:HYPHEN BULLET;2044:FRACTION SLASH;2045:LEFT SQUARE BRACKET WITH QUILL;" +
    "2046:RIGHT SQUARE BRACKET WITH QUILL;204a:TIRONIAN SIGN ET;204b:REVERSED PILCROW SIGN;" +
    "204c:BLACK LEFTWARDS BULLET;204d:BLACK RIGHTWARDS BULLET;204e:LOW ASTERISK;" +
    "204f:REVERSED SEMICOLON;2050:CLOSE UP;2051:TWO ASTERISKS ALIGNED VERTICALLY;" +
    "2052:COMMERCIAL MINUS SIGN;2053:SWUNG DASH;2054:INVERTED UNDERTIE;" +
    "2055:FLOWER PUNCTUATION MARK;2056:THREE DOT PUNCTUATION;2058:FOUR DOT PUNCTUATION;" +
    "2059:FIVE DOT PUNCTUATION;205a:TWO DOT PUNCTUATION;205b:FOUR DOT MARK;205c:DOTTED CROSS;" +
    "205d:TRICOLON;205e:VERTICAL FOUR DOTS;2060:WORD JOINER;2061:FUNCTION APPLICATION;" +
    "2062:INVISIBLE TIMES;2063:INVISIBLE SEPARATOR;2064:INVISIBLE PLUS;" +
    "2066:LEFT-TO-RIGHT ISOLATE;2067:RIGHT-TO-LEFT ISOLATE;2068:FIRST STRONG ISOLATE;" +
    "2069:POP DIRECTIONAL ISOLATE;206a:INHIBIT SYMMETRIC SWAPPING;" +
    "206b:ACTIVATE SYMMETRIC SWAPPING;206c:INHIBIT ARABIC FORM SHAPING;" +
    "206d:ACTIVATE ARABIC FORM SHAPING;206e:NATIONAL DIGIT SHAPES;206f:NOMINAL DIGIT SHAPES;" +
    "2212:MINUS SIGN;2215:DIVISION SLASH;25a0:BLACK SQUARE;25cb:WHITE CIRCLE;25cf:BLACK CIRCLE;" +
    "2605:BLACK STAR;3001:IDEOGRAPHIC COMMA;3002:IDEOGRAPHIC FULL STOP;3003:DITTO MARK;" +
    "3004:JAPANESE INDUSTRIAL STANDARD SYMBOL;3005:IDEOGRAPHIC ITERATION MARK;" +
    "3006:IDEOGRAPHIC CLOSING MARK;3007:IDEOGRAPHIC NUMBER ZERO;3008:LEFT ANGLE BRACKET;" +
    "3009:RIGHT ANGLE BRACKET;300a:LEFT DOUBLE ANGLE BRACKET;300b:RIGHT DOUBLE ANGLE BRACKET;" +
    "300c:LEFT CORNER BRACKET;300d:RIGHT CORNER BRACKET;300e:LEFT WHITE CORNER BRACKET;" +
    "300f:RIGHT WHITE CORNER BRACKET;3010:LEFT BLACK LENTICULAR BRACKET;" +
    "3011:RIGHT BLACK LENTICULAR BRACKET;3012:POSTAL MARK;3013:GETA MARK;" +
    "3014:LEFT TORTOISE SHELL BRACKET;3015:RIGHT TORTOISE SHELL BRACKET;" +
    "3016:LEFT WHITE LENTICULAR BRACKET;3017:RIGHT WHITE LENTICULAR BRACKET;" +
    "3018:LEFT WHITE TORTOISE SHELL BRACKET;3019:RIGHT WHITE TORTOISE SHELL BRACKET;" +
    "301a:LEFT WHITE SQUARE BRACKET;301b:RIGHT WHITE SQUARE BRACKET;301c:WAVE DASH;" +
    "301d:REVERSED DOUBLE PRIME QUOTATION MARK;301e:DOUBLE PRIME QUOTATION MARK;" +
    "301f:LOW DOUBLE PRIME QUOTATION MARK;3020:POSTAL MARK FACE;3021:HANGZHOU NUMERAL ONE;" +
    "3022:HANGZHOU NUMERAL TWO;3023:HANGZHOU NUMERAL THREE;3024:HANGZHOU NUMERAL FOUR;" +
    "3025:HANGZHOU NUMERAL FIVE;3026:HANGZHOU NUMERAL SIX;3027:HANGZHOU NUMERAL SEVEN;" +
    "3028:HANGZHOU NUMERAL EIGHT;3029:HANGZHOU NUMERAL NINE;302a:IDEOGRAPHIC LEVEL TONE MARK;" +
    "302b:IDEOGRAPHIC RISING TONE MARK;302c:IDEOGRAPHIC DEPARTING TONE MARK;" +
    "302d:IDEOGRAPHIC ENTERING TONE MARK;302e:HANGUL SINGLE DOT TONE MARK;" +
    "302f:HANGUL DOUBLE DOT TONE MARK;3030:WAVY DASH;3031:VERTICAL KANA REPEAT MARK;" +
    "3032:VERTICAL KANA REPEAT WITH VOICED SOUND MARK;" +
    "3033:VERTICAL KANA REPEAT MARK UPPER HALF;" +
    "3034:VERTICAL KANA REPEAT WITH VOICED SOUND MARK UPPER HALF;" +
    "3035:VERTICAL KANA REPEAT MARK LOWER HALF;" +
    "3037:IDEOGRAPHIC TELEGRAPH LINE FEED SEPARATOR SYMBOL;" +
    "303b:VERTICAL IDEOGRAPHIC ITERATION MARK;303c:MASU MARK;303d:PART ALTERNATION MARK;" +
    "303e:IDEOGRAPHIC VARIATION INDICATOR;303f:IDEOGRAPHIC HALF FILL SPACE;" +
    "30fb:KATAKANA MIDDLE DOT;30fc:KATAKANA-HIRAGANA PROLONGED SOUND MARK;" +
    "feff:ZERO WIDTH NO-BREAK SPACE;fffc:OBJECT REPLACEMENT CHARACTER;" +
    "fffd:REPLACEMENT CHARACTER"
  )
    .split(";")
    .map((entry) => {
      const [code, name] = entry.split(":");
      return [parseInt(code, 16), name];
    }),
);
// Unicode 14's unified ideographs (Python 3.11's database), named by their code.
const CJK_RANGES = [
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b738],
  [0x2b740, 0x2b81d],
  [0x2b820, 0x2cea1],
  [0x2ceb0, 0x2ebe0],
  [0x30000, 0x3134a],
];
const JAMO_L = "G GG N D DD R M B BB S SS  J JJ C K T P H".split(" ");
const JAMO_V = "A AE YA YAE EO E YEO YE O WA WAE OE YO U WEO WE WI YU EU YI I".split(" ");
const JAMO_T = " G GG GS N NJ NH D L LG LM LB LS LT LP LH M B BS S SS NG J C K T P H".split(" ");

function unicodeName(ch) {
  const cp = ch.codePointAt(0);
  if (cp >= 0x30 && cp <= 0x39)
    return "DIGIT " + "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split(" ")[cp - 0x30];
  if (cp >= 0x41 && cp <= 0x5a) return "LATIN CAPITAL LETTER " + ch;
  if (cp >= 0x61 && cp <= 0x7a) return "LATIN SMALL LETTER " + ch.toUpperCase();
  if (UNICODE_NAMES.has(cp)) return UNICODE_NAMES.get(cp);
  if (CJK_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi)) {
    return "CJK UNIFIED IDEOGRAPH-" + cp.toString(16).toUpperCase();
  }
  if (cp >= 0xac00 && cp <= 0xd7a3) {
    const s = cp - 0xac00;
    return (
      "HANGUL SYLLABLE " +
      JAMO_L[Math.floor(s / 588)] +
      JAMO_V[Math.floor((s % 588) / 28)] +
      JAMO_T[s % 28]
    );
  }
  return "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
}

// ---------------------------------------------------------------------------------------
// groups: inspector groups (§8)
// ---------------------------------------------------------------------------------------

/** An inspector of the frozen roster, from [id, department, jurisdiction, unit, [cats]]. */
function examinerOf(row) {
  return {
    id: pyStr(item(row, 0)),
    department: pyStr(item(row, 1)),
    jurisdiction: pyStr(item(row, 2)),
    unit: pyStr(item(row, 3)),
    categories: [...iter(item(row, 4))],
  };
}

const byId = (a, b) => cmpStr(a.id, b.id);
const keySet = (values) => new Set(iter(values).map(hashKey));
const isSubset = (small, big) => [...small].every((k) => big.has(k));
const pairKey = (a, b) => JSON.stringify([a, b]);

/** The region prefix a jurisdiction covers: 420000 → 42, 420200 → 4202. */
function jurisdictionPrefix(code) {
  let prefix = code;
  while (prefix.endsWith("00") && cpLength(prefix) > 2) prefix = prefix.slice(0, -2);
  return prefix;
}

const covers = (jurisdiction, region) => region.startsWith(jurisdictionPrefix(jurisdiction));

function noValidGroup(identifier, department, rule) {
  raise(
    "NoValidGroup",
    `no valid inspector group for subject ${identifier}: no inspector of ${pyStr(department)} is left after rule '${rule}'`,
  );
}

/** Python's `seq[1:]` of the departments. */
function fromSecond(seq) {
  if (isList(seq)) return seq.slice(1);
  if (isStr(seq)) return codePoints(seq).slice(1);
  raise(
    "TypeError",
    isDict(seq) ? "unhashable type: 'slice'" : `'${typeName(seq)}' object is not subscriptable`,
  );
}

/** Seats a group may have, far above any plan's (groups.py MAX_GROUP_SEATS). */
const MAX_GROUP_SEATS = 1000;

/** Draws seats from a frozen roster; keeps each inspector's load within the draw. */
class GroupDrawer {
  constructor({ roster, departments, minGroupSize, cross, avoidPrevious, conflicts, previous }) {
    Object.assign(this, { roster, departments, minGroupSize, cross, avoidPrevious });
    if (minGroupSize < 2) raise("ValueError", "a group has at least two inspectors");
    // A forged proof's absurd size would make the verifier add seats until it runs out of
    // memory (plans allow 20; a roster too small is the draw's own error).
    if (minGroupSize > MAX_GROUP_SEATS) {
      raise("ValueError", `a group has at most ${MAX_GROUP_SEATS} seats`);
    }
    if (!truthy(departments)) raise("ValueError", "the initiating department is missing");
    this.load = new Map(roster.map((e) => [e.id, 0]));
    this.seatList = this.seats();
    this.categories = new Map();
    for (const d of iter(departments)) {
      const key = hashKey(item(d, "department"));
      this.categories.set(key, keySet(item(d, "categories")));
    }
    // department → jurisdiction prefix → qualified inspectors, by id.
    this.index = new Map();
    for (const e of [...roster].sort(byId)) {
      const wanted = this.categories.get(hashKey(e.department)) ?? new Set();
      if (isSubset(wanted, keySet(e.categories))) {
        const department = hashKey(e.department);
        if (!this.index.has(department)) this.index.set(department, new Map());
        const byPrefix = this.index.get(department);
        const prefix = jurisdictionPrefix(e.jurisdiction);
        if (!byPrefix.has(prefix)) byPrefix.set(prefix, []);
        byPrefix.get(prefix).push(e);
      }
    }
    this.coveringCache = new Map();
    this.conflicts = new Set(conflicts.map(([a, b]) => pairKey(a, b)));
    this.previous = new Set(previous.map(([a, b]) => pairKey(a, b)));
    this.conflictsOf = barsByIdentifier(conflicts);
    this.previousOf = barsByIdentifier(previous);
  }

  /** The seats every group has: the leader's, one per participating department, then
   * the initiating department's until the group has min_group_size. */
  seats() {
    const initiating = item(item(this.departments, 0), "department");
    const seats = [{ department: initiating, role: "leader" }];
    for (const d of fromSecond(this.departments))
      seats.push({ department: item(d, "department"), role: "member" });
    while (seats.length < this.minGroupSize) seats.push({ department: initiating, role: "member" });
    return seats;
  }

  /** Inspectors who may take a seat of `department` for `target`, by id. */
  eligible(department, target, taken, replaced) {
    const covering = this.coveringOf(department, target.region);
    const barred = this.barred(target.identifier);
    const unit = this.cross ? target.unit : null;
    const found = covering.filter(
      (e) =>
        !taken.has(e.id) && !replaced.has(e.id) && !barred.has(e.id) && (!unit || e.unit !== unit),
    );
    if (!found.length) {
      noValidGroup(
        target.identifier,
        department,
        this.culprit(department, target, taken, replaced),
      );
    }
    return found;
  }

  /** Conflicts of interest, and last time's inspectors when that rule is on. */
  barred(identifier) {
    const out = new Set(this.conflictsOf.get(identifier) ?? []);
    if (this.avoidPrevious) for (const i of this.previousOf.get(identifier) ?? []) out.add(i);
    return out;
  }

  /** Qualified inspectors of `department` whose jurisdiction covers `region`, by id. */
  coveringOf(department, region) {
    const cacheKey = hashKey(department) + "\u0000" + region;
    let covering = this.coveringCache.get(cacheKey);
    if (!covering) {
      const byPrefix = this.index.get(hashKey(department)) ?? new Map();
      const prefixes = new Set([
        cpSlice(region, 0, 2),
        cpSlice(region, 0, 4),
        cpSlice(region, 0, 6),
      ]);
      covering = [...prefixes].flatMap((p) => byPrefix.get(p) ?? []).sort(byId);
      this.coveringCache.set(cacheKey, covering);
    }
    return covering;
  }

  /** The first rule after which nobody of `department` is left. */
  culprit(department, target, taken, replaced) {
    const wanted = this.categories.get(hashKey(department)) ?? new Set();
    const checks = [
      ["department", (e) => pyEq(e.department, department)],
      ["qualification", (e) => isSubset(wanted, keySet(e.categories))],
      ["jurisdiction", (e) => covers(e.jurisdiction, target.region)],
      ["cross_jurisdiction", (e) => !(this.cross && target.unit && e.unit === target.unit)],
      ["conflict_of_interest", (e) => !this.conflicts.has(pairKey(e.id, target.identifier))],
      [
        "previous_inspector",
        (e) => !(this.avoidPrevious && this.previous.has(pairKey(e.id, target.identifier))),
      ],
      ["group_size", (e) => !taken.has(e.id)],
      ["replaced", (e) => !replaced.has(e.id)],
    ];
    let left = this.roster;
    for (const [rule, keep] of checks) {
      left = left.filter(keep);
      if (!left.length) return rule;
    }
    return "replaced";
  }

  /** ssj-draw-2's replacement pick: the least loaded candidate; ties by the stream. */
  async pick(stream, candidates) {
    const least = candidates.reduce((m, e) => Math.min(m, this.load.get(e.id)), Infinity);
    const ties = candidates.filter((e) => this.load.get(e.id) === least);
    const chosen = ties[await stream.below(ties.length)];
    this.load.set(chosen.id, this.load.get(chosen.id) + 1);
    return chosen;
  }

  /** One subject's whole group: each seat takes the least loaded eligible inspector, ties
   * broken by the stream. */
  async group(stream, target) {
    const members = [];
    const taken = new Set();
    const excluded = this.barred(target.identifier);
    const unit = this.cross ? target.unit : "";
    for (const seat of this.seatList) {
      let least = -1;
      let ties = [];
      for (const e of this.coveringOf(seat.department, target.region)) {
        if (taken.has(e.id) || excluded.has(e.id) || (unit && e.unit === unit)) continue;
        const n = this.load.get(e.id);
        if (n === least) ties.push(e);
        else if (n < least || least < 0) [least, ties] = [n, [e]];
      }
      if (!ties.length) {
        noValidGroup(
          target.identifier,
          seat.department,
          this.culprit(seat.department, target, taken, new Set()),
        );
      }
      const chosen = ties[await stream.below(ties.length)];
      this.load.set(chosen.id, this.load.get(chosen.id) + 1);
      taken.add(chosen.id);
      members.push({ inspector_id: chosen.id, department: chosen.department, role: seat.role });
    }
    return members;
  }

  /** Give back the seats of inspectors who leave a group. */
  release(ids) {
    for (const id of ids) this.load.set(id, this.load.get(id) - 1);
  }
}

function barsByIdentifier(pairs) {
  const out = new Map();
  for (const [inspector, identifier] of pairs) {
    if (!out.has(identifier)) out.set(identifier, new Set());
    out.get(identifier).add(inspector);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// replace3: replacements (递补) of ssj-draw-3, the next alternate on a registry fact (§9)
// ---------------------------------------------------------------------------------------

const SUBJECT_FACTS = {
  deregistered: ["deregistered"],
  revoked: ["revoked", "cancelled"],
  relocated: ["moved_out"],
};
const INSPECTOR_FACTS = {
  recusal: ["conflict"],
  off_post: ["suspended", "transferred"],
  post_change: ["transferred", "suspended"],
  sick_leave: ["suspended"],
  official_travel: ["suspended"],
  work_conflict: ["suspended"],
};
const SUBJECT_GONE = ["deregistered", "revoked", "cancelled", "moved_out"];
const INSPECTOR_GONE = ["suspended", "transferred", "conflict"];
const EVIDENCE_KEYS = ["event", "fact", "at"];
const MAX_SKIPS = 3;

/** Python's `value in frozenset_of_strings` (a list or dict is unhashable). */
function inStrings(value, strings) {
  hashKey(value);
  return isStr(value) && strings.includes(value);
}

/** Why `evidence` does not ground `what` (null when it does). */
function evidenceProblem(evidence, allowed, announcedAt, what) {
  if (!isDict(evidence) || !sameKeys(evidence, EVIDENCE_KEYS)) {
    return `${what}: evidence must be {event, fact, at} naming a registry event`;
  }
  const event = get(evidence, "event");
  if (!isStr(event) || !/^registry:[1-9][0-9]*$/.test(event)) {
    return `${what}: evidence.event must be a registry event id, not ${repr(event)}`;
  }
  const fact = get(evidence, "fact");
  if (!inStrings(fact, allowed)) {
    return `${what}: the registry fact ${repr(fact)} is not one of ${repr([...allowed].sort(cmpStr))}`;
  }
  const at = fromIsoFormat(pyStr(get(evidence, "at")));
  if (at === null)
    return `${what}: evidence.at ${repr(get(evidence, "at"))} is not an ISO 8601 time`;
  if (!at.aware || at.micros < announcedAt.micros) {
    return `${what}: the registry fact must be recorded after the announcement`;
  }
  if (!isStr(get(evidence, "at")) || !timeSpelled(get(evidence, "at"))) {
    return `${what}: evidence.at ${repr(get(evidence, "at"))} is not written as the service writes times`;
  }
  return null;
}

/** Per stratum, the fixed order of alternates: the members not selected, shuffled on the
 * stream "alternates/<class>" one step of partial Fisher–Yates per alternate used. */
class Alternates {
  constructor(seed, members, selected) {
    Object.assign(this, { seed, members, selected, state: new Map() });
  }

  async next(stratum) {
    let state = this.state.get(stratum);
    if (!state) {
      const pool = Object.hasOwn(this.members, stratum) ? memberList(this.members[stratum]) : [];
      const left = pool.filter((p) => !this.selected.has(p));
      state = {
        left,
        stream: new Stream(this.seed, `alternates/${stratum}`),
        swapped: new Map(),
        i: 0,
      };
    }
    const { left, stream, swapped, i } = state;
    if (i >= left.length) return null;
    const j = i + (await stream.below(left.length - i));
    const atI = swapped.has(i) ? swapped.get(i) : i;
    const atJ = swapped.has(j) ? swapped.get(j) : j;
    swapped.set(i, atJ);
    swapped.set(j, atI);
    state.i = i + 1;
    this.state.set(stratum, state);
    return left[atJ];
  }
}

/** A seat's fixed order: the department's inspectors by id, shuffled (Fisher–Yates) on
 * the stream "seat/<identifier>/<seat>". */
async function seatOrder(seed, identifier, seat, roster) {
  const ids = roster.map((e) => e.id);
  const stream = new Stream(seed, `seat/${identifier}/${seat}`);
  for (let i = 0; i < ids.length - 1; i++) {
    const j = i + (await stream.below(ids.length - i));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return ids;
}

/** A request's next `skipped` entry, checked: it names the next in the fixed order and
 * evidences that it is gone. */
function checkedSkip(n, entry, key, expected, gone, announcedAt) {
  if (!isDict(entry) || !pyEq(get(entry, key), expected)) {
    const named = isDict(entry) ? get(entry, key) : entry;
    raise(
      "ReplacementError",
      `replacement ${n}: the next in order is ${expected}, not ${repr(named)}`,
    );
  }
  const problem = evidenceProblem(
    get(entry, "evidence"),
    gone,
    announcedAt,
    `replacement ${n} skip`,
  );
  if (problem) raise("ReplacementError", problem);
  return entry;
}

/** `list(request.get("skipped") or [])`. */
const listedSkips = (request) => {
  const given = get(request, "skipped");
  return truthy(given) ? [...iter(given)] : [];
};

/** The pool position subject replacement n takes: the next alternate not skipped. */
async function takeAlternate(n, stratum, alternates, identifierOf, request, announcedAt) {
  const listed = listedSkips(request);
  const skipped = [];
  for (;;) {
    const position = await alternates.next(stratum);
    if (position === null)
      raise("ReplacementError", `replacement ${n}: stratum ${stratum} has no alternate left`);
    const identifier = identifierOf(position);
    if (skipped.length === listed.length) return position;
    skipped.push(
      checkedSkip(n, listed[skipped.length], "identifier", identifier, SUBJECT_GONE, announcedAt),
    );
  }
}

/** The inspector replacement n seats: the first of the seat's order who is eligible and
 * not skipped; counted in the loads as §8's pick counts. */
async function takeSeat(
  n,
  seed,
  drawer,
  target,
  seat,
  department,
  taken,
  out,
  request,
  announcedAt,
) {
  const eligible = new Map(drawer.eligible(department, target, taken, out).map((e) => [e.id, e]));
  const roster = drawer.roster.filter((e) => pyEq(e.department, department)).sort(byId);
  const listed = listedSkips(request);
  const skipped = [];
  for (const id of await seatOrder(seed, target.identifier, seat, roster)) {
    if (!eligible.has(id)) continue;
    if (skipped.length === listed.length) {
      const chosen = eligible.get(id);
      drawer.load.set(chosen.id, drawer.load.get(chosen.id) + 1);
      return chosen;
    }
    skipped.push(
      checkedSkip(n, listed[skipped.length], "inspector_id", id, INSPECTOR_GONE, announcedAt),
    );
  }
  raise(
    "ReplacementError",
    `replacement ${n}: nobody is left for the seat of ${pyStr(department)}`,
  );
}

/** The group of a subject that comes in by replacement: each seat takes the first of its
 * seat order who is eligible, so it depends on that subject alone. */
async function groupBySeatOrder(seed, drawer, target) {
  const members = [];
  const taken = new Set();
  for (const [index, seat] of drawer.seats().entries()) {
    const eligible = new Set(
      drawer.eligible(seat.department, target, taken, new Set()).map((e) => e.id),
    );
    const roster = drawer.roster.filter((e) => pyEq(e.department, seat.department)).sort(byId);
    const chosen = (await seatOrder(seed, target.identifier, index, roster)).find((i) =>
      eligible.has(i),
    );
    if (chosen === undefined) raise("StopIteration", "");
    drawer.load.set(chosen, drawer.load.get(chosen) + 1);
    taken.add(chosen);
    members.push({ inspector_id: chosen, department: seat.department, role: seat.role });
  }
  return members;
}

/** Every step counts against the cap: the replacement and each candidate it passes over. */
function stepsProblem(requests, cap) {
  const rows = iter(requests);
  const lists = rows.map((r) => {
    const skipped = get(r, "skipped");
    return truthy(skipped) ? skipped : [];
  });
  if (!lists.every(isList)) return "a replacement's skipped must be a list";
  const longest = lists.reduce((m, s) => Math.max(m, s.length), 0);
  if (longest > MAX_SKIPS) {
    return (
      `a replacement passes over ${longest} candidates; one may pass over ` +
      `${MAX_SKIPS} at most (then file the next replacement on its own ground)`
    );
  }
  const steps = lists.reduce((n, s) => n + 1 + s.length, 0);
  if (!isInt(cap) || steps > cap) {
    return (
      `${rows.length} replacements passing over ${steps - rows.length} candidates ` +
      `take ${steps} steps; the announcement allows ${repr(cap)} at most`
    );
  }
  return null;
}

/** A registry event records a fact about one party: one event cited for two is made up. */
function evidenceReuseProblem(requests) {
  const partyOf = new Map();
  const cite = (evidence, party) => {
    if (!isDict(evidence)) return null;
    const event = pyStr(get(evidence, "event"));
    const who = pyStr(party);
    if (!partyOf.has(event)) partyOf.set(event, who);
    return partyOf.get(event) !== who
      ? `evidence ${event} is cited for both ${partyOf.get(event)} and ${who}`
      : null;
  };
  // A conflict (回避) is between an inspector and one subject: its event grounds that pair.
  const party = (evidence, who, subject) => {
    const fact = isDict(evidence) ? get(evidence, "fact") : null;
    return pyEq(fact, "conflict") ? `${pyStr(who)} / ${pyStr(subject)}` : pyStr(who);
  };
  for (const request of iter(requests)) {
    const subject = get(request, "identifier");
    const evidence = get(request, "evidence");
    let found = pyEq(get(request, "kind"), "subject")
      ? cite(evidence, subject)
      : cite(evidence, party(evidence, get(request, "inspector_id"), subject));
    const skipped = get(request, "skipped");
    for (const entry of isList(skipped) ? skipped : []) {
      if (!isDict(entry)) continue;
      let who = get(entry, "identifier", get(entry, "inspector_id"));
      if (hasKey(entry, "inspector_id")) who = party(get(entry, "evidence"), who, subject);
      found = found || cite(get(entry, "evidence"), who);
    }
    if (found) return `replacement ${pyStr(get(request, "sequence"))}: ${found}`;
  }
  return null;
}

/** Why the request's own ground (reason code and evidence) does not hold. */
function groundProblem(request, announcedAt) {
  const kind = get(request, "kind");
  const code = get(request, "reason_code");
  const table = pyEq(kind, "subject") ? SUBJECT_FACTS : INSPECTOR_FACTS;
  const sequence = pyStr(get(request, "sequence"));
  if (!Object.hasOwn(table, pyStr(code))) {
    return (
      `replacement ${sequence}: a ${pyStr(kind)} is replaced in ssj-draw-3 only on a registry ` +
      `fact: reason_code one of ${repr(Object.keys(table).sort(cmpStr))}, not ${repr(code)}`
    );
  }
  return evidenceProblem(
    get(request, "evidence"),
    table[pyStr(code)],
    announcedAt,
    `replacement ${sequence}`,
  );
}

// ---------------------------------------------------------------------------------------
// blinding: the public announcement of the full one (§3a; full proofs only)
// ---------------------------------------------------------------------------------------

const PRIVATE_KEYS = ["pool_hash", "conflicts", "previous"];
const TOKEN = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const SALT_TAG = ascii("ssj-draw-3 salt\u0000");
const UNIT_TAG = ascii("ssj-draw-3 unit\u0000");

/** A unit token's form: empty or 32 lowercase hex digits. */
const tokenOk = (token) => token === "" || TOKEN.test(token);

/** The salts of a pool: SHAKE-256 of the key, 32 bytes per line. */
const saltsOf = (key, size) =>
  size ? shake256(concatBytes(SALT_TAG, key), 32 * size) : new Uint8Array(0);

async function unitToken(key, unit) {
  if (!unit) return "";
  return toHex(await sha256(concatBytes(UNIT_TAG, key, utf8(unit)))).slice(0, 32);
}

/** SHA-256(0x00 ‖ salt ‖ line): an RFC 9162 leaf whose data is salt and line. */
const leafHash = (salt, line) => sha256(concatBytes([0], salt, utf8(line)));

/** bisect_left on lines in canonical order. */
function bisectLeft(lines, x) {
  let lo = 0;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmpStr(lines[mid], x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether the pool (lines in canonical order) holds a line of `identifier`. */
function inPool(lines, identifier) {
  const at = bisectLeft(lines, identifier + "\t");
  return at < lines.length && lines[at].startsWith(identifier + "\t");
}

/** Per subject, the inspectors barred from it, sorted (full announcement). */
function barsOf(announcement) {
  const rows = [...iter(get(announcement, "conflicts", []))];
  if (truthy(get(get(announcement, "rules", {}), "avoid_previous_inspectors", true))) {
    rows.push(...iter(get(announcement, "previous", [])));
  }
  const out = new Map();
  for (const row of rows) {
    const [inspector, identifier] = unpack2(row);
    const key = pyStr(identifier);
    if (!out.has(key)) out.set(key, new Set());
    out.get(key).add(pyStr(inspector));
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort(cmpStr)]));
}

/** The units whose tokens the public sees: the roster's, when 所所交叉 is on. */
function unitsThatDecide(full) {
  const out = new Set();
  if (!truthy(get(get(full, "rules", {}), "cross_jurisdiction", false))) return out;
  for (const row of iter(item(full, "roster")))
    if (truthy(item(row, 3))) out.add(pyStr(item(row, 3)));
  return out;
}

/** Of each subject's bars, the inspectors who could otherwise take a seat of its group. */
function relevantBars(full, lines, bars) {
  const wanted = new Map();
  for (const d of iter(item(full, "departments"))) {
    const name = pyStr(item(d, "department"));
    wanted.set(name, keySet(item(d, "categories")));
  }
  const roster = new Map();
  for (const row of iter(item(full, "roster"))) {
    const department = pyStr(item(row, 1));
    if (!wanted.has(department) || !isSubset(wanted.get(department), keySet(item(row, 4))))
      continue;
    const id = pyStr(item(row, 0));
    roster.set(id, [pyStr(item(row, 1)), pyStr(item(row, 2)), keySet(item(row, 4))]);
  }
  const out = new Map();
  for (const [identifier, barred] of bars) {
    const at = bisectLeft(lines, identifier + "\t");
    if (at === lines.length || !lines[at].startsWith(identifier + "\t")) continue;
    const region = item(lines[at].split("\t"), 2);
    const kept = barred.filter((i) => roster.has(i) && covers(roster.get(i)[1], region));
    if (kept.length) out.set(identifier, kept);
  }
  return out;
}

/** SHA-256 of the full announcement and the blinding key, in canonical JSON. */
async function privateHash(full, key) {
  return toHex(await sha256(canonicalJson({ announcement: full, blinding_key: toHex(key) })));
}

/** Each stratum's line indexes in keyed order: by their salts' first 8 bytes (ties, of
 * chance 2⁻⁶⁴, in pool order). */
function orderBySalts(members, salted) {
  const keyOf = (i) => toHex(salted.subarray(32 * i, 32 * i + 8));
  for (const stratum of ORDER) {
    const keys = new Map(members[stratum].map((i) => [i, keyOf(i)]));
    members[stratum].sort((a, b) =>
      keys.get(a) < keys.get(b) ? -1 : keys.get(a) > keys.get(b) ? 1 : 0,
    );
  }
  return members;
}

const keyedMembers = (lines, key) =>
  orderBySalts(stratumMembers(lines), saltsOf(key, lines.length));

/** The code point at a negative index (Python's s[-k]), IndexError past the start. */
function codePointFromEnd(s, k) {
  const chars = /[\uD800-\uDFFF]/.test(s) ? codePoints(s) : s;
  if (k > chars.length) raise("IndexError", "string index out of range");
  return chars[chars.length - k];
}

/** The strata's roots ({stratum: {size, root}}) over a full pool under a key, as
 * blinding.Trees builds them. */
async function treeRoots(full, lines, key) {
  const bars = relevantBars(full, lines, barsOf(full));
  const salted = saltsOf(key, lines.length);
  const tokened = unitsThatDecide(full);
  for (const row of iter(item(full, "roster"))) hashKey(item(row, 3)); // a set of the units
  const barredAt = new Map();
  for (const [identifier, barred] of bars) {
    const at = bisectLeft(lines, identifier + "\t");
    if (at < lines.length && lines[at].startsWith(identifier + "\t"))
      barredAt.set(at, barred.join(","));
  }
  const tokens = new Map();
  const texts = [];
  const members = { [FULL_LIST]: [], A: [], B: [], C: [], D: [] };
  let at = 0;
  try {
    for (at = 0; at < lines.length; at++) {
      const line = lines[at];
      const cut = line.lastIndexOf("\t");
      const head = cut < 0 ? "" : line.slice(0, cut);
      const unit = cut < 0 ? line : line.slice(cut + 1);
      if (!tokens.has(unit)) tokens.set(unit, tokened.has(unit) ? await unitToken(key, unit) : "");
      texts.push(`${head}\t${tokens.get(unit)}\t${barredAt.get(at) ?? ""}`);
      // The reference reads the stratum one character before a six-digit region, or the
      // slow way; a line of other than four fields is refused either way.
      const quick = codePointFromEnd(head, 7) === "\t" && codePointFromEnd(head, 9) === "\t";
      const stratum = quick ? codePointFromEnd(head, 8) : item(head.split("\t"), 1);
      if (!Object.hasOwn(members, stratum)) raise("KeyError", strRepr(stratum));
      members[stratum].push(at);
      if (head.split("\t").length !== 3) raise("ValueError", "");
    }
  } catch (error) {
    if (!isPy(error, "ValueError", "KeyError", "IndexError")) throw error;
    raise("ValueError", `pool line ${at} is not: identifier, stratum (*, A-D), region, unit`);
  }
  const leaves = await Promise.all(
    texts.map((t, i) => leafHash(salted.subarray(32 * i, 32 * i + 32), t)),
  );
  const order = orderBySalts(members, salted);
  const roots = {};
  for (const s of ORDER) {
    const levels = await merkleLevels(order[s].map((i) => leaves[i]));
    roots[s] = {
      size: order[s].length,
      root: order[s].length ? toHex(levels[levels.length - 1][0]) : EMPTY_ROOT,
    };
  }
  return roots;
}

/** The announcement the public sees and the seed binds, derived from the full one. */
async function publicAnnouncement(full, key, roots) {
  const out = new Map(entriesOf(full).filter(([k]) => !PRIVATE_KEYS.includes(k)));
  const deciding = unitsThatDecide(full);
  const roster = [];
  for (const row of iter(item(full, "roster"))) {
    const [id, department, jurisdiction, unit] = [0, 1, 2, 3].map((i) => item(row, i));
    const token = inStrings(unit, [...deciding]) ? await unitToken(key, unit) : "";
    roster.push([id, department, jurisdiction, token, item(row, 4)]);
  }
  out.set("roster", roster);
  out.set("pool_roots", Object.fromEntries(ORDER.map((s) => [s, { ...roots[s] }])));
  out.set("private_hash", await privateHash(full, key));
  return out;
}

// ---------------------------------------------------------------------------------------
// public: the opened leaves of a public proof, checked against the announced roots
// ---------------------------------------------------------------------------------------

const REGION = /^[0-9]{6}$/;
const VISIBLE_ID = /^[!-~]{1,128}$/; // visible ASCII, as the pool's identifiers
const OPENING_KEYS = ["line", "path", "position", "salt"];

/** `pool_roots` names every stratum with a whole size and a hash, summing to the pool's
 * size; `private_hash` is a hash. */
function rootsProblems(announcement) {
  const roots = get(announcement, "pool_roots");
  if (!isDict(roots) || !sameKeys(roots, ORDER)) {
    return [`pool_roots: must give each of ${repr(ORDER)} its size and root`];
  }
  const problems = [];
  for (const s of ORDER) {
    const entry = get(roots, s);
    const size = isDict(entry) ? get(entry, "size") : null;
    const root = isDict(entry) ? get(entry, "root") : null;
    if (
      !isDict(entry) ||
      !sameKeys(entry, ["size", "root"]) ||
      !isInt(size) ||
      size < 0 ||
      !isStr(root) ||
      !HEX64.test(root)
    ) {
      problems.push(`pool_roots.${s}: must be {size: whole number, root: 64 hex}`);
    } else if (BigInt(size) === 0n && root !== EMPTY_ROOT) {
      problems.push(`pool_roots.${s}: an empty stratum's root is SHA-256 of nothing`);
    }
  }
  if (!problems.length) {
    const total = ORDER.reduce((n, s) => n + BigInt(get(get(roots, s), "size")), 0n);
    if (!pyEq(total, get(announcement, "pool_size"))) {
      problems.push("pool_roots: the strata's sizes do not add up to pool_size");
    } else if (total > BigInt(MAX_POOL_SIZE)) {
      // what the draw's replacements may walk through
      problems.push(
        `pool_roots: ${withCommas(total)} subjects; a pool holds at most ${withCommas(MAX_POOL_SIZE)}`,
      );
    }
  }
  const hash = get(announcement, "private_hash");
  if (!isStr(hash) || !HEX64.test(hash)) problems.push("private_hash: must be 64 hex digits");
  return problems;
}

/** Why one opened leaf is not a leaf of the stratum's tree ([problem, null]), or its
 * fields [identifier, stratum, region, token, ...bars] ([null, fields]). */
async function openingProblem(stratum, opened, root, roster) {
  if (!isDict(opened) || !sameKeys(opened, OPENING_KEYS)) {
    return [`must be an object of exactly ${repr(OPENING_KEYS)}`, null];
  }
  const [position, salt, line, path] = ["position", "salt", "line", "path"].map((k) =>
    get(opened, k),
  );
  if (!isInt(position) || !isStr(salt) || !isStr(line)) {
    return ["position must be a whole number, salt and line strings", null];
  }
  if (!HEX64.test(salt)) return ["salt must be 64 hex digits", null];
  if (!isList(path) || !path.every((h) => isStr(h) && HEX64.test(h))) {
    return ["path must be a list of 64-hex-digit hashes", null];
  }
  const parts = line.split("\t");
  if (parts.length !== 5) {
    return ["line must be identifier, stratum, region, unit token and bars, tab-separated", null];
  }
  const [identifier, inStratum, region, token, bars] = parts;
  const barred = bars ? bars.split(",") : [];
  if (!VISIBLE_ID.test(identifier)) return ["the identifier must be visible ASCII", null];
  if (inStratum !== stratum) {
    return [`the line is of stratum ${strRepr(inStratum)}, opened under ${strRepr(stratum)}`, null];
  }
  if (!REGION.test(region)) return ["the region must be a six-digit code", null];
  if (!tokenOk(token)) return ["the unit token must be empty or 32 hex digits", null];
  if (!sortedUnique(barred) || !barred.every((b) => roster.has(b))) {
    return ["bars must be inspectors of the roster, sorted, each once", null];
  }
  const leaf = await leafHash(hexToBytes(salt), line);
  const found = await rootFromPath(leaf, position, get(root, "size"), path.map(hexToBytes));
  if (found === null || toHex(found) !== get(root, "root")) {
    return [`leaf ${position} is not in the announced tree of stratum ${stratum}`, null];
  }
  return [null, [identifier, inStratum, region, token, ...barred]];
}

/** Python's `salt[:16]` of an opening's salt (a list slices too; others raise). */
function saltHead(salt) {
  if (isStr(salt)) return cpSlice(salt, 0, 16);
  if (isList(salt)) return salt.slice(0, 16);
  raise(
    "TypeError",
    isDict(salt) ? "unhashable type: 'slice'" : `'${typeName(salt)}' object is not subscriptable`,
  );
}

/** Check the proof's opened leaves: [problems, the opened pool (or null), the opened
 * subjects' bars as sorted [inspector, identifier] pairs]. */
async function readOpenings(announcement, openings) {
  const problems = rootsProblems(announcement);
  if (problems.length) return [problems, null, []];
  const roots = get(announcement, "pool_roots");
  if (!isDict(openings) || !keysOf(openings).every((k) => ORDER.includes(k))) {
    return [[`opened: must map strata of ${repr(ORDER)} to their opened leaves`], null, []];
  }
  const roster = new Set();
  for (const row of iter(get(announcement, "roster", [])))
    if (isList(row) && row.length) roster.add(pyStr(row[0]));
  const lines = {};
  const bars = [];
  const seen = new Set();
  for (const [stratum, rows] of entriesOf(openings)) {
    if (!isList(rows)) {
      problems.push(`opened.${stratum}: must be a list`);
      continue;
    }
    if (!rows.length) problems.push(`opened.${stratum}: a stratum with no leaf opened is left out`);
    const positions = rows.filter(isDict).map((r) => get(r, "position"));
    const ascending = positions.every(
      (p, i) => i === 0 || (isInt(positions[i - 1]) && isInt(p) && positions[i - 1] < p),
    );
    if (positions.length !== rows.length || !ascending) {
      problems.push(`opened.${stratum}: leaves must be in ascending position, each once`);
    }
    // Leaves stand in keyed order (§3a): the salts' first 8 bytes rise with position.
    const keys = rows.filter(isDict).map((r) => saltHead(get(r, "salt", "")));
    if (!keys.every(isStr) || !pyEq(keys, pySorted(keys))) {
      problems.push(`opened.${stratum}: the salts do not rise with position (§3a)`);
    }
    for (const [n, row] of rows.entries()) {
      const [problem, fields] = await openingProblem(stratum, row, get(roots, stratum), roster);
      if (problem || !fields) {
        problems.push(`opened.${stratum}[${n}]: ${problem}`);
        continue;
      }
      const identifier = fields[0];
      if (seen.has(identifier))
        problems.push(`opened.${stratum}[${n}]: ${identifier} is opened twice`);
      seen.add(identifier);
      (lines[stratum] ??= new Map()).set(
        Number(get(row, "position")),
        fields.slice(0, 4).join("\t"),
      );
      for (const inspector of fields.slice(4)) bars.push([inspector, identifier]);
    }
    if (problems.length > 10) break;
  }
  if (problems.length) return [problems, null, []];
  const sizes = Object.fromEntries(ORDER.map((s) => [s, get(get(roots, s), "size")]));
  if (
    Object.values(sizes).reduce((n, size) => n + BigInt(size), 0n) > BigInt(Number.MAX_SAFE_INTEGER)
  ) {
    // Positions would lose digits as JS numbers; no pool is this large (2^53 subjects).
    raise("OverflowError", "the strata's sizes add up to more than 2^53 subjects");
  }
  return [[], new OpenedPool(sizes, lines), pySorted(bars)];
}

/** The pool as a public proof shows it: the strata one after another at virtual
 * positions, only the opened lines readable (identifier, stratum, region, token). */
class OpenedPool {
  constructor(sizes, opened) {
    this.offsets = {};
    let at = 0;
    for (const s of ORDER) {
      this.offsets[s] = at;
      at += sizes[s];
    }
    this.size = at;
    this.sizes = sizes;
    this.lines = new Map();
    for (const [s, rows] of Object.entries(opened)) {
      for (const [position, line] of rows) this.lines.set(this.offsets[s] + position, line);
    }
  }

  get length() {
    return this.size;
  }

  /** Each stratum's virtual positions, in order (ranges: a stratum may be large). */
  members() {
    return Object.fromEntries(
      ORDER.map((s) => [s, new PositionRange(this.offsets[s], this.sizes[s])]),
    );
  }

  openedLines() {
    return [...this.lines.keys()].sort((a, b) => a - b).map((k) => this.lines.get(k));
  }

  at(at) {
    if (this.lines.has(at)) return this.lines.get(at);
    const stratum = [...ORDER].reverse().find((s) => at >= this.offsets[s]);
    raise(
      "ValueError",
      `the draw uses position ${at - this.offsets[stratum]} of stratum ${stratum}, which the proof does not open`,
    );
  }
}

/** Consecutive positions start … start + length − 1, read like the array of them. */
class PositionRange {
  constructor(start, length) {
    Object.assign(this, { start, length });
  }

  at(i) {
    return this.start + i;
  }

  toArray() {
    return Array.from({ length: this.length }, (_, i) => this.start + i);
  }
}

/** Position i of a stratum's members (an array, or a PositionRange). */
const memberAt = (members, i) => (members instanceof PositionRange ? members.at(i) : members[i]);
const memberList = (members) => (members instanceof PositionRange ? members.toArray() : members);

/** The announcement as the computation reads it: the opened subjects' bars as its
 * conflicts, no separate list of last time's inspectors. */
const computeView = (announcement, bars) =>
  merged(announcement, { conflicts: bars.map((b) => [...b]), previous: [] });

// ---------------------------------------------------------------------------------------
// reasons and checks: requests in their public form, the secret, the result
// ---------------------------------------------------------------------------------------

const REASONS_BY_KIND = {
  inspector: [
    "recusal",
    "official_travel",
    "sick_leave",
    "off_post",
    "post_change",
    "work_conflict",
    "other",
  ],
  subject: ["deregistered", "revoked", "closed", "relocated", "other"],
};
const PUBLIC_REQUEST_FIELDS = {
  inspector: [
    "sequence",
    "kind",
    "identifier",
    "inspector_id",
    "reason_code",
    "evidence",
    "skipped",
  ],
  subject: ["sequence", "kind", "identifier", "unavailable", "reason_code", "evidence", "skipped"],
};
const RESULT_KEYS = [
  "protocol",
  "pool_hash",
  "pool_size",
  "announcement_hash",
  "commitment",
  "seed",
  "strata",
  "selection",
  "groups",
  "replacements",
];
const PUBLIC_RESULT_KEYS = RESULT_KEYS.filter((k) => k !== "pool_hash");

/** Why `code` is not a reason for a replacement of `kind` (null when it is). */
function reasonProblem(kind, code) {
  const allowed = Object.hasOwn(REASONS_BY_KIND, kind) ? REASONS_BY_KIND[kind] : null;
  if (!allowed) return `kind must be 'inspector' or 'subject', not ${strRepr(kind)}`;
  if (!allowed.includes(code)) {
    return `reason_code ${strRepr(code)} is not one of ${repr([...allowed].sort(cmpStr))} for kind ${strRepr(kind)}`;
  }
  return null;
}

/** `skipped` is a list of {identifier|inspector_id, evidence} and nothing else. */
function skippedProblem(request) {
  const skipped = item(request, "skipped");
  const who = pyEq(get(request, "kind"), "subject") ? "identifier" : "inspector_id";
  const entryOk = (e) => isDict(e) && sameKeys(e, [who, "evidence"]) && isStr(get(e, who));
  if (!isList(skipped) || !skipped.every(entryOk)) {
    return `skipped must be a list of {${who}, evidence}`;
  }
  return null;
}

/** Requests carry a reason code of their kind's list and no field beyond the public ones. */
function requestProblems(requests) {
  const problems = [];
  iter(requests).forEach((request, i) => {
    const n = i + 1;
    const kind = pyStr(get(request, "kind"));
    const problem = reasonProblem(kind, pyStr(get(request, "reason_code")));
    if (problem) problems.push(`replacement ${n}: ${problem}`);
    const allowed = Object.hasOwn(PUBLIC_REQUEST_FIELDS, kind) ? PUBLIC_REQUEST_FIELDS[kind] : [];
    const extra = keysOf(request)
      .filter((k) => !allowed.includes(k))
      .sort(cmpStr);
    if (extra.length)
      problems.push(`replacement ${n}: fields ${repr(extra)} are not part of a public request`);
    if (hasKey(request, "skipped")) {
      const skipped = skippedProblem(request);
      if (skipped) problems.push(`replacement ${n}: ${skipped}`);
    }
    for (const name of ["identifier", "inspector_id"]) {
      if (hasKey(request, name) && !isStr(get(request, name)))
        problems.push(`replacement ${n}: ${name} must be a string`);
    }
    const unavailable = get(request, "unavailable", []);
    if (!isList(unavailable) || !unavailable.every(isStr))
      problems.push(`replacement ${n}: unavailable must be a list of identifiers`);
  });
  return problems;
}

/** The revealed secret hashes to the announced commitment. */
function secretProblems(proof, announced) {
  return tryPy(
    ["ValueError"],
    async () => {
      const written = pyStr(get(proof, "secret", ""));
      const secret = fromhex(written);
      const found = await commitment(secret);
      if (!pyEq(found, announced)) {
        return [
          `commitment: announced ${pyStr(announced)}, SHA-256 of the revealed secret is ${found}`,
        ];
      }
      if (toHex(secret) !== written) {
        // fromhex also reads "AB CD …"
        return [`secret: ${strRepr(written)} is not written as 64 lowercase hex digits`];
      }
      return [];
    },
    (error) => [`secret: ${error.message}`],
  );
}

/** Equal and written alike (checks.same): 1.0 and true are not the count 1. */
const same = (expected, recorded) =>
  pyEq(expected, recorded) && jsonDumps(expected, true) === jsonDumps(recorded, true);

/** Name the first difference of `recorded` from `expected`, if any. */
function compare(name, expected, recorded, problems) {
  if (same(expected, recorded)) return;
  if (isList(expected) && isList(recorded)) {
    if (expected.length !== recorded.length) {
      problems.push(`${name}: ${recorded.length} recorded, ${expected.length} recomputed`);
    }
    for (let i = 0; i < Math.min(expected.length, recorded.length); i++) {
      if (!same(expected[i], recorded[i])) {
        problems.push(
          `${name}[${i}]: recorded ${jsonDumps(recorded[i])}, recomputed ${jsonDumps(expected[i])}`,
        );
        break;
      }
    }
    return;
  }
  problems.push(`${name}: recorded ${jsonDumps(recorded)}, recomputed ${jsonDumps(expected)}`);
}

/** Every key of the result whose recorded value is not the recomputed one. */
function compareResult(expected, recorded, keys = RESULT_KEYS) {
  const problems = [];
  for (const key of keys)
    compare(key, Object.hasOwn(expected, key) ? expected[key] : null, get(recorded, key), problems);
  const extra = keysOf(recorded)
    .filter((k) => !keys.includes(k))
    .sort(cmpStr);
  if (extra.length) problems.push(`result: ${repr(extra)} are not part of this proof's result`);
  return problems;
}

// ---------------------------------------------------------------------------------------
// ISO 8601 times, as CPython 3.11's datetime.fromisoformat reads them
// ---------------------------------------------------------------------------------------

/** Days from 1970-01-01 of a proleptic Gregorian date. */
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z) {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp + (mp < 10 ? 3 : -9);
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

const isLeap = (y) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysIn = (y, m) => [31, isLeap(y) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1];

/** An ISO week date as (year, month, day), or null (iso_to_ymd). */
function isoWeekToDate(year, week, day) {
  const weekday = (days) => (((days + 3) % 7) + 7) % 7; // Monday 0 (1970-01-01 was a Thursday)
  if (week <= 0 || week >= 53) {
    const first = weekday(daysFromCivil(year, 1, 1));
    if (!(week === 53 && (first === 3 || (first === 2 && isLeap(year))))) return null;
  }
  if (day <= 0 || day >= 8) return null;
  const jan1 = daysFromCivil(year, 1, 1);
  let monday = jan1 - weekday(jan1);
  if (weekday(jan1) > 3) monday += 7;
  return civilFromDays(monday + (week - 1) * 7 + day - 1);
}

/** datetime.fromisoformat(text): null when Python refuses it, else {aware, micros} with
 * micros the instant in microseconds (UTC when aware). Like CPython's C parser it reads
 * the UTF-8 bytes, after putting "T" for a non-ASCII separator (any one character may
 * separate date and time: "2026-12-08日13:16" is read). */
function fromIsoFormat(text) {
  const chars = codePoints(text);
  if (chars.length < 7) return null;
  for (const pos of [7, 8, 10]) {
    if (pos > chars.length) break;
    if (chars[pos] && chars[pos].codePointAt(0) > 127) {
      chars[pos] = "T";
      break;
    }
  }
  const joined = chars.join("");
  if (LONE_SURROGATE.test(joined)) return null;
  const bytes = textEncoder.encode(joined);
  const len = bytes.length;
  const at = (i) => (i < len ? bytes[i] : 0);
  const separator = isoSeparator(at, len);
  if (separator < 0) return null;
  const date = isoDate(at, separator);
  if (!date) return null;
  let time = { hour: 0, minute: 0, second: 0, micro: 0, offset: null };
  if (len > separator) {
    time = isoTime(at, separator + 1, len);
    if (!time) return null;
  }
  const [year, month, day] = date;
  const { hour, minute, second, micro, offset } = time;
  if (offset !== null && (offset <= -86400000000n || offset >= 86400000000n)) return null;
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month))
    return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  const seconds =
    BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour * 3600 + minute * 60 + second);
  return { aware: offset !== null, micros: seconds * 1000000n + BigInt(micro) - (offset ?? 0n) };
}

const isDigitByte = (b) => b >= 0x30 && b <= 0x39;

/** Where the date ends (_find_isoformat_datetime_separator). */
function isoSeparator(at, len) {
  if (len === 7) return 7;
  if (at(4) === 0x2d) {
    if (at(5) !== 0x57) return 10;
    if (len < 8) return -1;
    if (len > 8 && at(8) === 0x2d) {
      if (len === 9) return -1;
      return len > 10 && isDigitByte(at(10)) ? 8 : 10;
    }
    return 8;
  }
  if (at(4) !== 0x57) return 8;
  let idx = 7;
  while (idx < len && isDigitByte(at(idx))) idx++;
  if (idx < 9) return idx;
  return idx % 2 === 0 ? 7 : 8;
}

/** A reader of fixed-width digit fields from byte position p. */
function digitReader(at, p) {
  return {
    p,
    digits(n) {
      let value = 0;
      for (let k = 0; k < n; k++) {
        const b = at(this.p);
        if (!isDigitByte(b)) return null;
        value = value * 10 + (b - 0x30);
        this.p++;
      }
      return value;
    },
  };
}

function isoDate(at, len) {
  const r = digitReader(at, 0);
  const year = r.digits(4);
  if (year === null) return null;
  const dashed = at(r.p) === 0x2d;
  if (dashed) r.p++;
  if (at(r.p) === 0x57) {
    r.p++;
    const week = r.digits(2);
    if (week === null) return null;
    let day = 1;
    if (r.p < len) {
      if (dashed && at(r.p++) !== 0x2d) return null;
      day = r.digits(1);
      if (day === null) return null;
    }
    return isoWeekToDate(year, week, day);
  }
  const month = r.digits(2);
  if (month === null) return null;
  if (dashed && at(r.p++) !== 0x2d) return null;
  const day = r.digits(2);
  return day === null ? null : [year, month, day];
}

/** HH[:MM[:SS[.ffffff]]] from p to end: {rv (<0 refused, 0 end of text, 1 more), …}. */
function isoClock(at, p, end) {
  const r = digitReader(at, p);
  const values = [0, 0, 0];
  let separated = true;
  for (let i = 0; i < 3; i++) {
    const v = r.digits(2);
    if (v === null) return { rv: -3 };
    values[i] = v;
    const c = at(r.p++);
    if (i === 0) separated = c === 0x3a;
    if (r.p >= end) return { rv: c !== 0 ? 1 : 0, values, micro: 0 };
    if (separated && c === 0x3a) continue;
    if (c === 0x2e || c === 0x2c) break;
    if (separated) return { rv: -4 };
    r.p--;
  }
  const count = Math.min(end - r.p, 6);
  let micro = r.digits(count);
  if (micro === null) return { rv: -3 };
  if (count < 6) micro *= [100000, 10000, 1000, 100, 10][count - 1];
  while (isDigitByte(at(r.p))) r.p++;
  return { rv: at(r.p) !== 0 ? 1 : 0, values, micro };
}

function isoTime(at, start, len) {
  let tz = start;
  do {
    const c = at(tz);
    if (c === 0x5a || c === 0x2b || c === 0x2d) break;
  } while (++tz < len);
  const clock = isoClock(at, start, tz);
  if (clock.rv < 0) return null;
  const [hour, minute, second] = clock.values;
  const time = { hour, minute, second, micro: clock.micro, offset: null };
  if (tz === len) return clock.rv === 1 ? null : time;
  if (at(tz) === 0x5a) return at(tz + 1) !== 0 ? null : { ...time, offset: 0n };
  const sign = at(tz) === 0x2d ? -1n : 1n;
  const zone = isoClock(at, tz + 1, len);
  if (zone.rv !== 0) return null;
  const [h, m, s] = zone.values;
  return {
    ...time,
    offset: sign * (BigInt(h * 3600 + m * 60 + s) * 1000000n + BigInt(zone.micro)),
  };
}

// ---------------------------------------------------------------------------------------
// v3: the entropy as data, timing, draw ids, the pool's explanation, the cap
// ---------------------------------------------------------------------------------------

const DRAW_NAMESPACE = hexToBytes("0b1f3f2e9a644f0e8a4c6f2d8e3c9b15");
const ENTROPY_KEYS = ["format", "issue", "name", "scheduled_at", "source"];
const SOURCE_CODE = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const ISSUE = /^[0-9A-Za-z-]{1,24}$/;
const V3_SINCE = fromIsoFormat("2026-12-05T00:00:00+00:00").micros;
const POOL_SPEC_KEYS = [
  "complaint_referral",
  "excluded",
  "filters",
  "full_list",
  "items",
  "overlaps",
  "registry_position",
  "year",
];

/** An ISO 8601 time with its offset (naive times could be read in two zones). */
function instant(text, where) {
  if (!isStr(text)) raise("ValueError", `${where} must be an ISO 8601 time, not ${repr(text)}`);
  const value = fromIsoFormat(text);
  if (!value) raise("ValueError", `${where}: ${strRepr(text)} is not an ISO 8601 time`);
  if (!value.aware) raise("ValueError", `${where}: ${strRepr(text)} has no UTC offset`);
  if (!timeSpelled(text)) {
    raise(
      "ValueError",
      `${where}: ${strRepr(text)} is not written as the service writes times (${TIME_FORM})`,
    );
  }
  return value;
}

/** The announcement's entropy, read strictly: [its number format, the object]. */
function entropySpec(announcement) {
  const spec = get(announcement, "entropy");
  if (!isDict(spec) || !sameKeys(spec, ENTROPY_KEYS)) {
    raise("ValueError", `entropy must be an object of exactly ${repr(ENTROPY_KEYS)}`);
  }
  const source = get(spec, "source");
  if (!isStr(source) || !SOURCE_CODE.test(source)) {
    raise("ValueError", `entropy.source ${repr(source)} is not a source code`);
  }
  const name = get(spec, "name");
  if (!isStr(name) || !name || field(name) !== name) {
    raise("ValueError", "entropy.name must be the source's name in canonical form");
  }
  const issue = get(spec, "issue");
  if (!isStr(issue) || !ISSUE.test(issue))
    raise("ValueError", `entropy.issue ${repr(issue)} is not an issue number`);
  instant(get(spec, "scheduled_at"), "entropy.scheduled_at");
  return [EntropyFormat.fromJson(get(spec, "format")), spec];
}

/** [what the seed hashes of the entropy, the RFC 3797 sources] for the proof's entropy,
 * which must be the announced format's numbers in canonical form. */
function seedEntropy(announcement, entropy) {
  const [fmt] = entropySpec(announcement);
  if (!isStr(entropy)) raise("ValueError", "entropy must be the numbers as text");
  const numbers = readCanonical(fmt, entropy);
  const sources = rfc3797Sources(numbers);
  if (pyEq(get(announcement, "selection"), RFC3797_SELECTION))
    return [ascii(canonicalKey(sources)), sources];
  return [numbersBytes(numbers), sources];
}

/** The announcement came before the entropy's time, and execution not before it. */
function timingProblems(proof) {
  const given = get(proof, "announcement");
  const announcement = truthy(given) ? given : {};
  let spec;
  try {
    [, spec] = entropySpec(announcement);
  } catch (error) {
    if (isPy(error, "ValueError")) return [error.message];
    throw error;
  }
  const problems = [];
  const scheduledAt = get(spec, "scheduled_at");
  if (!pyEq(get(announcement, "entropy_not_before"), scheduledAt)) {
    problems.push(
      `entropy_not_before must be the source's scheduled draw time ${scheduledAt}, not ` +
        repr(get(announcement, "entropy_not_before")),
    );
  }
  const scheduled = instant(scheduledAt, "entropy.scheduled_at");
  const timed = (body) => {
    try {
      body();
    } catch (error) {
      if (!isPy(error, "ValueError")) throw error;
      problems.push(error.message);
    }
  };
  timed(() => {
    const announced = instant(get(announcement, "announced_at"), "announced_at");
    if (announced.micros >= scheduled.micros) {
      problems.push(
        `announced_at ${pyStr(get(announcement, "announced_at"))} is not before the entropy's ` +
          `draw time ${scheduledAt}: the announcement could follow the numbers`,
      );
    }
  });
  if (!isNone(get(proof, "result"))) {
    timed(() => {
      const executed = instant(get(proof, "executed_at"), "executed_at");
      if (executed.micros < scheduled.micros) {
        problems.push(
          `executed_at ${pyStr(get(proof, "executed_at"))} is before the entropy's draw time ${scheduledAt}`,
        );
      }
    });
  }
  return problems;
}

/** uuid5(namespace, name), as Python's uuid writes it. */
async function uuid5(namespace, name) {
  const hash = (await sha1(concatBytes(namespace, utf8(name)))).slice(0, 16);
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = toHex(hash);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The id of the attempt-th draw of a batch. */
function drawId(batchId, attempt) {
  if (!isInt(attempt) || attempt < 1)
    raise("ValueError", `attempt must be a whole number from 1, not ${repr(attempt)}`);
  return uuid5(
    DRAW_NAMESPACE,
    numEq(attempt, 1) ? `draw:${batchId}` : `draw:${batchId}:${attempt}`,
  );
}

/** The announcement's draw_id must be its batch's attempt-th draw id. */
async function drawIdProblems(announcement) {
  if (!hasKey(announcement, "attempt")) {
    return ["attempt: an ssj-draw-3 announcement says which draw of the batch it is"];
  }
  const attempt = get(announcement, "attempt");
  const batch = get(announcement, "batch_id");
  return tryPy(
    ["ValueError"],
    async () => {
      const expected = await drawId(pyStr(batch), attempt);
      if (!pyEq(get(announcement, "draw_id"), expected)) {
        return [
          `draw_id: ${pyStr(get(announcement, "draw_id"))} is not the id of draw ${pyStr(attempt)} of batch ` +
            `${pyStr(batch)} (${expected})`,
        ];
      }
      return [];
    },
    (error) => [`attempt: ${error.message}`],
  );
}

/** The pool's explanation (pool_spec) is there and agrees with the pool: the 100 % list
 * is exactly the pool's "*" lines, and no excluded subject is in it. */
function poolSpecProblems(announcement, starred, inThePool) {
  const spec = get(announcement, "pool_spec");
  if (!isDict(spec) || !sameKeys(spec, POOL_SPEC_KEYS)) {
    return [`pool_spec: must be an object of exactly ${repr(POOL_SPEC_KEYS)}`];
  }
  const problems = [];
  if (!isInt(get(spec, "year"))) problems.push("pool_spec.year: must be an integer");
  if (!isBool(get(spec, "complaint_referral")))
    problems.push("pool_spec.complaint_referral: must be true or false");
  const fullList = get(spec, "full_list");
  if (!isList(fullList) || !pyEq(fullList, starred)) {
    problems.push("pool_spec.full_list: is not exactly the pool's 100 % lines (stratum *)");
  }
  const excluded = get(spec, "excluded");
  if (
    !isList(excluded) ||
    excluded.some((row) => !isList(row) || row.length !== 4 || !row.every(isStr))
  ) {
    problems.push("pool_spec.excluded: must be [identifier, rule, draw id, item] rows");
  } else {
    const inside = excluded
      .filter((row) => inThePool(row[0]))
      .map((row) => row[0])
      .sort(cmpStr);
    if (inside.length)
      problems.push(`pool_spec.excluded: ${repr(inside.slice(0, 3))} are excluded yet in the pool`);
    if (!pyEq(excluded, pySorted(excluded))) problems.push("pool_spec.excluded: must be sorted");
  }
  const overlaps = get(spec, "overlaps");
  if (
    !isList(overlaps) ||
    overlaps.some((row) => !isList(row) || row.length !== 2 || !isStr(row[0]) || !isInt(row[1]))
  ) {
    problems.push("pool_spec.overlaps: must be [draw id, subjects shared] rows");
  }
  return problems;
}

/** Identifiers of the 100 % list, read off a recomputed selection. */
const starredOf = (selection) =>
  selection
    .filter((s) => s.stratum === FULL_LIST)
    .map((s) => pyStr(s.identifier))
    .sort(cmpStr);

/** The announced max_replacements is the rule's: a tenth of the selected, at least 3. */
function capProblems(announcement, strata) {
  const selected = Object.values(strata).reduce((n, v) => n + Number(v.count), 0);
  const wanted = Math.max(3, Math.ceil(selected / 10));
  if (!pyEq(get(announcement, "max_replacements"), wanted)) {
    return [
      `max_replacements: announced ${repr(get(announcement, "max_replacements"))}, the rule gives ` +
        `${wanted} for ${selected} subjects`,
    ];
  }
  return [];
}

/** A proof labelled ssj-draw-2 must be of a draw announced before v3 existed. */
function downgradeProblems(announcement) {
  let announced;
  try {
    announced = instant(get(announcement, "announced_at"), "announced_at");
  } catch (error) {
    if (isPy(error, "ValueError")) return [error.message];
    throw error;
  }
  if (announced.micros >= V3_SINCE) {
    return [
      "protocol: ssj-draw-2 is retired for draws announced from 2026-12-05; this one was " +
        "announced after, so it must follow ssj-draw-3",
    ];
  }
  return [];
}

// ---------------------------------------------------------------------------------------
// strict: the form of the announcement (one reading only)
// ---------------------------------------------------------------------------------------

const RULES = ["cross_jurisdiction", "avoid_previous_inspectors"];
const INSPECTOR_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const CATEGORIES = ["general", "key"];
const RATIO = /^(?:0\.[0-9]*[1-9][0-9]*|1(?:\.0+)?)$/;
const INVISIBLE = new RegExp(`[\\p{Cf}\\p{Cc}\\p{Co}\\p{Cn}\\p{Cs}${NEWER_THAN_PYTHON}]`, "u");

function textProblem(value, where, problems, strictly) {
  if (!isStr(value)) problems.push(`${where}: must be a string, not ${jsonDumps(value)}`);
  else if (field(value) !== value)
    problems.push(`${where}: ${strRepr(value)} is not in canonical form`);
  else if (strictly && INVISIBLE.test(value))
    problems.push(`${where}: ${strRepr(value)} holds invisible or format characters`);
}

/** Everything in the announcement's form that could be read two ways (empty: none). */
function formProblems(proof, full = false) {
  const announcement = get(proof, "announcement");
  if (!isDict(announcement)) return ["announcement: must be an object"];
  const v3 = pyEq(get(announcement, "protocol"), PROTOCOL_V3);
  const problems = [];
  const rules = get(announcement, "rules");
  if (!isDict(rules) || !sameKeys(rules, RULES)) {
    problems.push(`rules: must be an object of exactly ${repr(RULES)}`);
  } else {
    for (const name of RULES) {
      if (!isBool(get(rules, name)))
        problems.push(`rules.${name}: must be true or false, not ${repr(get(rules, name))}`);
    }
  }
  problems.push(...strataProblems(get(announcement, "strata")));
  for (const name of ["pool_size", "min_group_size"]) {
    if (!isInt(get(announcement, name))) problems.push(`${name}: must be an integer`);
  }
  // A public v3 announcement: units are tokens and the pairs are in the leaves. A full
  // one is never read as public, whatever keys it holds.
  const isPublic = v3 && !full && hasKey(announcement, "pool_roots");
  if (full) {
    for (const k of ["pool_roots", "private_hash"]) {
      if (hasKey(announcement, k))
        problems.push(`${k}: belongs to the public announcement, not the full one`);
    }
  }
  if (v3) {
    for (const name of ["batch_id", "plan_id"]) {
      if (!isStr(get(announcement, name))) problems.push(`${name}: must be a string`);
    }
    problems.push(...keyProblems(announcement, full));
  }
  problems.push(...departmentsProblems(get(announcement, "departments")));
  problems.push(...rosterProblems(get(announcement, "roster"), v3));
  if (isPublic) {
    const roster = get(announcement, "roster");
    const bad = (isList(roster) ? roster : []).findIndex(
      (row) => isList(row) && row.length === 5 && !tokenOk(pyStr(row[3])),
    );
    if (bad >= 0) problems.push(`roster[${bad}].unit: must be a unit token (32 hex digits)`);
  } else {
    for (const name of ["conflicts", "previous"])
      problems.push(...pairProblems(name, get(announcement, name), v3));
  }
  return problems;
}

// The keys of a full ssj-draw-3 announcement (strict.ANNOUNCEMENT_KEYS); `selection` is
// written only when it is not the default.
const ANNOUNCEMENT_KEYS = [
  "protocol",
  "draw_id",
  "attempt",
  "batch_id",
  "plan_id",
  "pool_hash",
  "pool_size",
  "strata",
  "departments",
  "min_group_size",
  "rules",
  "roster",
  "conflicts",
  "previous",
  "commitment",
  "max_replacements",
  "pool_spec",
  "entropy",
  "entropy_not_before",
  "announced_at",
];

/** ssj-draw-3: no key the service does not write, `selection` only when not the default. */
function keyProblems(announcement, full) {
  const allowed = [...ANNOUNCEMENT_KEYS, "pool_roots", "private_hash", "selection"];
  if (!full) allowed.push(...PRIVATE_KEYS); // named on their own
  const problems = [];
  const extra = keysOf(announcement)
    .filter((k) => !allowed.includes(k))
    .sort(cmpStr);
  if (extra.length)
    problems.push(`fields: ${repr(extra)} are not part of an ssj-draw-3 announcement`);
  if (pyEq(get(announcement, "selection"), SHA256_SELECTION)) {
    problems.push(
      `fields: selection '${SHA256_SELECTION}' is the default, which an announcement leaves out`,
    );
  }
  return problems;
}

function departmentsProblems(departments) {
  if (!isList(departments) || !departments.length) {
    return ["departments: must be a non-empty list, the initiating department first"];
  }
  const problems = [];
  const seen = new Set();
  departments.forEach((entry, n) => {
    const where = `departments[${n}]`;
    if (!isDict(entry) || !sameKeys(entry, ["department", "categories"])) {
      problems.push(`${where}: must be exactly {department, categories}`);
      return;
    }
    const name = get(entry, "department");
    const categories = get(entry, "categories");
    if (!isStr(name) || !name || seen.has(name))
      problems.push(`${where}.department: must be a code, each department once`);
    seen.add(pyStr(name));
    if (
      !isList(categories) ||
      !categories.every((c) => CATEGORIES.some((k) => pyEq(c, k))) ||
      !sortedUnique(categories)
    ) {
      problems.push(`${where}.categories: must be sorted, each once, of ('general', 'key')`);
    }
  });
  return problems;
}

/** Each stratum drawn is A-D with exactly a ratio (a decimal string) or a count. */
function strataProblems(strata) {
  if (!isDict(strata)) return ["strata: must be an object"];
  const problems = [];
  for (const [name, rule] of entriesOf(strata)) {
    const where = `strata.${name}`;
    if (!STRATA.includes(name)) {
      problems.push(`${where}: not a credit-risk class A-D`);
    } else if (!isDict(rule) || keysOf(rule).length !== 1) {
      problems.push(`${where}: must be {"ratio": …} or {"count": …}, one of them`);
    } else if (hasKey(rule, "ratio")) {
      const ratio = get(rule, "ratio");
      if (!isStr(ratio) || !RATIO.test(ratio)) {
        problems.push(`${where}.ratio: ${repr(ratio)} is not a decimal in (0, 1]`);
      } else if (floatRepr(Number(ratio)) !== ratio) {
        // the service writes repr(float): "0.05", "1.0"
        problems.push(
          `${where}.ratio: ${repr(ratio)} is not written as the service writes it ` +
            `(${strRepr(floatRepr(Number(ratio)))})`,
        );
      }
    } else if (hasKey(rule, "count")) {
      const count = get(rule, "count");
      if (!isInt(count) || count < 0)
        problems.push(`${where}.count: ${repr(count)} is not a whole number`);
    } else {
      problems.push(`${where}: must be ratio or count`);
    }
  }
  return problems;
}

function rosterProblems(roster, v3) {
  if (!isList(roster)) return ["roster: must be a list"];
  const problems = [];
  roster.forEach((row, n) => {
    const where = `roster[${n}]`;
    if (!isList(row) || row.length !== 5) {
      problems.push(`${where}: must be [id, department, jurisdiction, unit, categories]`);
      return;
    }
    ["id", "department", "jurisdiction", "unit"].forEach((name, i) =>
      textProblem(row[i], `${where}.${name}`, problems, v3),
    );
    if (v3 && isStr(row[0]) && !INSPECTOR_ID.test(row[0])) {
      problems.push(`${where}.id: ${strRepr(row[0])} is not an inspector id (A-Z a-z 0-9 . _ : -)`);
    }
    if (v3 && isStr(row[2]) && !REGION.test(row[2])) {
      problems.push(`${where}.jurisdiction: ${strRepr(row[2])} is not a six-digit code`);
    }
    const categories = row[4];
    if (!isList(categories) || !categories.every(isStr))
      problems.push(`${where}.categories: must be a list of strings`);
    else if (!sortedUnique(categories))
      problems.push(`${where}.categories: must be sorted, each once`);
  });
  const ids = roster
    .filter((row) => isList(row) && row.length && isStr(row[0]))
    .map((row) => row[0]);
  if (ids.length === roster.length && !sortedUnique(ids))
    problems.push("roster: inspectors must be sorted by id, each once");
  return problems;
}

function pairProblems(name, rows, v3) {
  if (!isList(rows)) return [`${name}: must be a list`];
  const problems = [];
  const pairs = [];
  rows.forEach((row, n) => {
    if (!isList(row) || row.length !== 2) {
      problems.push(`${name}[${n}]: must be [inspector_id, identifier]`);
      return;
    }
    textProblem(row[0], `${name}[${n}][0]`, problems, v3);
    textProblem(row[1], `${name}[${n}][1]`, problems, v3);
    pairs.push([pyStr(row[0]), pyStr(row[1])]);
  });
  if (!problems.length && !sortedUnique(pairs))
    problems.push(`${name}: pairs must be sorted, each once`);
  return problems;
}

/** ssj-draw-3: the lines the draw used hold a six-digit region and a canonical, visible
 * unit (a line nobody drew decides nothing). */
function drawnLineProblems(lines, positions) {
  const problems = [];
  const units = new Map();
  for (const [identifier, at] of positions) {
    const parts = lineAt(lines, at).split("\t");
    if (parts.length !== 4 || !REGION.test(parts[2])) {
      problems.push(`pool line of ${identifier}: the region is not a six-digit code`);
    } else {
      const unit = parts[3];
      if (!units.has(unit)) units.set(unit, field(unit) === unit && (isPrintable(unit) || !unit));
      if (!units.get(unit))
        problems.push(
          `pool line of ${identifier}: unit ${strRepr(unit)} is not canonical and visible`,
        );
    }
    if (problems.length >= 3) break;
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// proof: the pool, and the draw recomputed from a proof's inputs (proof.compute)
// ---------------------------------------------------------------------------------------

/** The proof's pool: [the canonical pool text, its lines]. */
function poolOf(proof) {
  const given = get(proof, "pool");
  const text = truthy(given) ? given : "";
  if (!isStr(text)) raise("ValueError", "pool must be the canonical pool text: lines joined by LF");
  return [text, text ? text.split("\n") : []];
}

/** Hash, size and canonical order of a pool against its announcement. */
function poolProblems(lines, announcement, digest) {
  const problems = [];
  if (!pyEq(digest, get(announcement, "pool_hash"))) {
    problems.push(
      `pool_hash: announced ${pyStr(get(announcement, "pool_hash"))}, the pool's lines hash to ${digest}`,
    );
  }
  if (!pyEq(lines.length, get(announcement, "pool_size"))) {
    problems.push(
      `pool_size: announced ${pyStr(get(announcement, "pool_size"))}, pool has ${lines.length}`,
    );
  }
  // line[:line.find("\t")]: a line without a tab loses its last character.
  const identifiers = lines.map((line) =>
    line.includes("\t") ? line.slice(0, line.indexOf("\t")) : cpSlice(line, 0, -1),
  );
  const ordered = identifiers.every((id, i) => i === 0 || cmpStr(identifiers[i - 1], id) < 0);
  // One reading of an identifier: visible ASCII, so no invisible character can make one
  // company two lines.
  if (!/^[!-~]*$/.test(identifiers.join("")))
    problems.push("pool: an identifier holds other than visible ASCII characters");
  if (!ordered)
    problems.push("pool: lines are not in canonical order (identifiers ascending, unique)");
  return problems;
}

/** The group drawer the announcement describes. */
function drawerFor(announcement) {
  const rules = get(announcement, "rules", {});
  for (const name of RULES) {
    if (!isBool(get(rules, name, false)))
      raise("ValueError", `rules.${name} must be true or false`);
  }
  const pairs = (rows) =>
    iter(rows).map((row) => {
      const [a, b] = unpack2(row);
      return [pyStr(a), pyStr(b)];
    });
  return new GroupDrawer({
    roster: iter(item(announcement, "roster")).map(examinerOf),
    departments: item(announcement, "departments"),
    minGroupSize: pyInt(get(announcement, "min_group_size", 2)),
    cross: get(rules, "cross_jurisdiction", false),
    avoidPrevious: get(rules, "avoid_previous_inspectors", true),
    conflicts: pairs(get(announcement, "conflicts", [])),
    previous: pairs(get(announcement, "previous", [])),
  });
}

/** The result a proof's inputs give and each drawn subject's position in the pool. A v3
 * draw is computed from its full announcement and pool (text, lines), or from its public
 * announcement and opened leaves (text null, lines an OpenedPool, members its strata). */
async function compute(
  proof,
  text,
  lines,
  digest = null,
  { members = null, announced = null } = {},
) {
  const announcement = item(proof, "announcement");
  const protocol = get(announcement, "protocol");
  if (text !== null) digest = digest || (await poolTextHash(text));
  announced = announced || (await announcementHash(announcement));
  const secret = fromhex(item(proof, "secret"));
  let seed;
  let sources = null;
  if (pyEq(protocol, PROTOCOL_V3)) {
    let material;
    [material, sources] = seedEntropy(announcement, item(proof, "entropy"));
    seed = await deriveSeedV3(announced, secret, material);
  } else if (pyEq(protocol, PROTOCOL_V2)) {
    seed = await deriveSeed(announced, secret, item(proof, "entropy"));
  } else {
    raise("ValueError", `protocol ${repr(protocol)} is none of ${PROTOCOLS.join(", ")}`);
  }
  const method = get(announcement, "selection", SHA256_SELECTION);
  if (members === null && pyEq(protocol, PROTOCOL_V3) && truthy(get(proof, "blinding_key"))) {
    members = keyedMembers(lines, fromhex(item(proof, "blinding_key"))); // ssj-draw-3: keyed order
  }
  if (members === null) members = stratumMembers(lines);
  let picked;
  let summary;
  if (pyEq(method, SHA256_SELECTION)) {
    [picked, summary] = await selectSubjects(seed, lines, item(announcement, "strata"), members);
  } else if (pyEq(method, RFC3797_SELECTION)) {
    if (pyEq(protocol, PROTOCOL_V2)) sources = parseSources(item(proof, "entropy"));
    [picked, summary] = await selectRfc3797(sources, lines, item(announcement, "strata"), members);
  } else {
    raise("ValueError", `selection ${repr(method)} is neither ${SHA256_SELECTION} nor rfc3797`);
  }

  const position = new Map(picked.map((p) => [p.identifier, p.position]));
  const target = (identifier) => {
    const [, , region, unit] = splitLine(lineAt(lines, position.get(identifier)));
    return { identifier, region, unit };
  };
  const drawer = drawerFor(announcement);
  const stream = new Stream(seed, "inspectors");
  const drawn = [];
  for (const p of picked)
    drawn.push([p.identifier, await drawer.group(stream, target(p.identifier))]);
  const groups = drawn.map(([identifier, group]) => ({
    identifier,
    inspectors: group.map((m) => ({ ...m })),
  }));
  const current = new Map(drawn);
  const everSelected = new Set(current.keys());
  const replacedOut = new Map();
  const outcomes = [];
  const requests = iter(get(proof, "replacements", []));
  const v3Rules = pyEq(protocol, PROTOCOL_V3);
  let cap;
  let announcedAt;
  let alternates;
  if (v3Rules) {
    cap = get(announcement, "max_replacements");
    const problem = stepsProblem(requests, cap); // as filed (the verifier's case)
    if (problem) raise("ReplacementError", problem);
    announcedAt = instant(get(announcement, "announced_at"), "announced_at");
    alternates = new Alternates(seed, members, new Set(position.values()));
  }
  for (const [index, request] of requests.entries()) {
    const n = index + 1;
    const sequence = get(request, "sequence");
    if (!isInt(sequence) || !numEq(sequence, n)) {
      raise(
        "ReplacementError",
        `replacement ${n} carries sequence ${pyStr(get(request, "sequence"))}`,
      );
    }
    const identifier = pyStr(item(request, "identifier"));
    if (!current.has(identifier))
      raise("ReplacementError", `replacement ${n}: ${identifier} is not a drawn subject`);
    const sub = new Stream(seed, `replace/${n}`);
    if (v3Rules) {
      const problem = groundProblem(request, announcedAt);
      if (problem) raise("ReplacementError", problem);
    }
    if (pyEq(item(request, "kind"), "inspector")) {
      const subject = target(identifier);
      const choose = v3Rules
        ? (seat, department, taken, out) =>
            takeSeat(n, seed, drawer, subject, seat, department, taken, out, request, announcedAt)
        : async (seat, department, taken, out) =>
            drawer.pick(sub, drawer.eligible(department, subject, taken, out));
      outcomes.push(await replaceInspector(n, request, current, replacedOut, drawer, choose));
    } else if (pyEq(item(request, "kind"), "subject")) {
      const stratum = splitLine(lineAt(lines, position.get(identifier)))[1];
      if (stratum === FULL_LIST) {
        raise(
          "ReplacementError",
          `replacement ${n}: ${identifier} is on the 100 % list, which has no random pool to replace it from`,
        );
      }
      let chosenAt;
      if (v3Rules) {
        chosenAt = await takeAlternate(
          n,
          stratum,
          alternates,
          (at) => identifierAt(lines, at),
          request,
          announcedAt,
        );
      } else {
        const excluded = new Set([
          ...everSelected,
          ...iter(get(request, "unavailable", [])).map(pyStr),
        ]);
        const candidates = item(members, stratum).filter(
          (p) => !excluded.has(identifierAt(lines, p)),
        );
        if (!candidates.length)
          raise(
            "ReplacementError",
            `replacement ${n}: stratum ${stratum} has no subject left to draw`,
          );
        chosenAt = candidates[await sub.below(candidates.length)];
      }
      const chosen = identifierAt(lines, chosenAt);
      position.set(chosen, chosenAt);
      drawer.release(current.get(identifier).map((m) => m.inspector_id));
      current.delete(identifier);
      const group = v3Rules
        ? await groupBySeatOrder(seed, drawer, target(chosen))
        : await drawer.group(sub, target(chosen));
      current.set(chosen, group);
      everSelected.add(chosen);
      outcomes.push({
        sequence: n,
        kind: "subject",
        identifier,
        replacement: chosen,
        stratum,
        group,
      });
    } else {
      raise("ReplacementError", `replacement ${n}: kind must be 'inspector' or 'subject'`);
    }
  }
  // Again with the skips as filed, and no registry event cited for two parties.
  if (v3Rules) {
    const problem = stepsProblem(requests, cap) || evidenceReuseProblem(requests);
    if (problem) raise("ReplacementError", problem);
  }
  const result = { protocol };
  if (text !== null) result.pool_hash = digest;
  Object.assign(result, {
    pool_size: lines.length,
    announcement_hash: announced,
    commitment: await commitment(secret),
    seed: toHex(seed),
    strata: summary,
    selection: picked.map((p) => ({ identifier: p.identifier, stratum: p.stratum })),
    groups,
    replacements: outcomes,
  });
  return [result, position];
}

/** Replace one member of a group; `choose(seat index, department, taken, replaced out)`
 * names the newcomer (a fresh pick in v2, the seat's order in v3). */
async function replaceInspector(n, request, current, replacedOut, drawer, choose) {
  const identifier = pyStr(item(request, "identifier"));
  const leaving = pyStr(item(request, "inspector_id"));
  const group = current.get(identifier);
  const seat = group.find((m) => m.inspector_id === leaving);
  if (!seat)
    raise("ReplacementError", `replacement ${n}: ${leaving} is not in the group of ${identifier}`);
  if (!replacedOut.has(identifier)) replacedOut.set(identifier, new Set());
  const out = replacedOut.get(identifier);
  out.add(leaving);
  drawer.release([leaving]);
  const taken = new Set(group.filter((m) => m.inspector_id !== leaving).map((m) => m.inspector_id));
  const index = group.indexOf(seat);
  const chosen = await choose(index, seat.department, taken, out);
  const member = { inspector_id: chosen.id, department: chosen.department, role: seat.role };
  group[index] = member;
  return { sequence: n, kind: "inspector", identifier, replaced: leaving, replacement: member };
}

// ---------------------------------------------------------------------------------------
// verify3 and verify: the proof forms, checked
// ---------------------------------------------------------------------------------------

/** A Python exception of the computation, as the verifier names it. */
const recomputeProblem = (error) =>
  `the draw cannot be recomputed: ${error.pyType}: ${error.message}`;

/** Form, hash, timing and id of the public announcement; and its hash. */
async function announcementProblems(proof) {
  const announcement = get(proof, "announcement");
  const problems = [...documentProblems(proof), ...formProblems(proof)];
  const announced = await announcementHash(announcement);
  if (!pyEq(get(proof, "announcement_hash"), announced)) {
    problems.push(
      `announcement_hash: the proof says ${pyStr(get(proof, "announcement_hash"))}, its ` +
        `announcement hashes to ${announced}`,
    );
  }
  const leaked = PRIVATE_KEYS.filter((k) => hasKey(announcement, k)).sort(cmpStr);
  if (leaked.length)
    problems.push(`announcement: ${repr(leaked)} belong to the full announcement, not here`);
  problems.push(...timingProblems(proof));
  problems.push(...(await drawIdProblems(announcement)));
  try {
    const [fmt, spec] = entropySpec(announcement);
    const weakness = fmt.weakness();
    if (weakness) problems.push(`entropy.format: ${weakness}`);
    const mismatch = lotteryProblem(pyStr(get(spec, "source")), fmt);
    if (mismatch) problems.push(`entropy.format: ${mismatch}`);
  } catch (error) {
    if (!isPy(error, "ValueError")) throw error; // timing_problems names an unreadable entropy
  }
  problems.push(...requestProblems(get(proof, "replacements", [])));
  problems.push(...(await secretProblems(proof, get(announcement, "commitment"))));
  return [problems, announced];
}

/** The subjects whose leaves the draw read: drawn, replacements, alternates passed over. */
function usedIdentifiers(positions, requests) {
  const used = new Set(positions.keys());
  for (const request of truthy(requests) ? iter(requests) : []) {
    const skipped = pyEq(get(request, "kind"), "subject") ? get(request, "skipped") : null;
    for (const entry of isList(skipped) ? skipped : []) {
      if (isDict(entry)) used.add(pyStr(get(entry, "identifier")));
    }
  }
  return used;
}

/** A public ssj-draw-3 proof: the opened leaves against the roots, the draw recomputed. */
async function verifyPublic(proof) {
  const announcement = get(proof, "announcement");
  const [problems, announced] = await announcementProblems(proof);
  if (hasKey(proof, "pool"))
    problems.push("pool: a public proof opens leaves; the pool is for auditors only");
  const [openingProblems, pool, bars] = await readOpenings(announcement, get(proof, "opened", {}));
  problems.push(...openingProblems);
  if (!pool) return problems;
  const shortfall = shortfallOf(announcement, get(proof, "opened", {}));
  if (shortfall) return [...problems, shortfall];
  const view = merged(proof, { announcement: computeView(announcement, bars) });
  let expected;
  let positions;
  try {
    [expected, positions] = await compute(view, null, pool, null, {
      members: pool.members(),
      announced,
    });
  } catch (error) {
    if (!isPy(error, "ValueError", "KeyError", "TypeError")) throw error;
    return [...problems, recomputeProblem(error)];
  }
  const opened = new Set(pool.openedLines().map((line) => line.split("\t", 1)[0]));
  const used = usedIdentifiers(positions, get(proof, "replacements"));
  const unused = [...opened].filter((i) => !used.has(i)).sort(cmpStr);
  if (unused.length) {
    problems.push(
      `opened: ${repr(unused.slice(0, 3))} are opened but not used by the draw (an opening ` +
        "discloses what is internal)",
    );
  }
  problems.push(...drawnLineProblems(pool, positions));
  problems.push(...capProblems(announcement, expected.strata));
  problems.push(
    ...poolSpecProblems(announcement, starredOf(expected.selection), (i) => opened.has(i)),
  );
  problems.push(...compareResult(expected, item(proof, "result"), PUBLIC_RESULT_KEYS));
  return problems;
}

/** A stratum of which the draw selects more subjects than the proof opens leaves (null:
 * none), said before computing (verify3._shortfall). */
function shortfallOf(announcement, opened) {
  const strata = get(announcement, "strata");
  if (strataProblems(strata).length) return null; // named as they are
  const roots = get(announcement, "pool_roots");
  for (const s of ORDER) {
    const size = Number(get(get(roots, s), "size"));
    let count = 0;
    if (s === FULL_LIST) count = size;
    else if (hasKey(strata, s)) count = Number(stratumCount(size, get(strata, s)));
    const leaves = hasKey(opened, s) ? get(opened, s).length : 0;
    if (count > leaves) {
      return (
        `opened.${s}: the draw selects ${count} of the stratum, the proof opens ${leaves}: ` +
        "it does not open every subject the draw uses"
      );
    }
  }
  return null;
}

/** Every conflict and previous-inspector pair names a roster inspector and a pool subject. */
function fullPairProblems(full, lines) {
  const roster = new Set();
  for (const row of iter(get(full, "roster", [])))
    if (isList(row) && row.length) roster.add(pyStr(row[0]));
  const problems = [];
  for (const name of ["conflicts", "previous"]) {
    for (const [n, pair] of iter(get(full, name, [])).entries()) {
      if (!isList(pair) || pair.length !== 2) continue; // the form check names it
      const [inspector, identifier] = pair;
      if (!inStrings(inspector, [...roster]) || !inPool(lines, pyStr(identifier))) {
        problems.push(
          `full_announcement.${name}[${n}]: ${repr(pair)} names no roster inspector and pool subject`,
        );
        break;
      }
    }
  }
  return problems;
}

/** A full ssj-draw-3 proof (auditors'): the public announcement must follow from the
 * full one, the key and the pool; the draw is recomputed from the full pool. */
async function verifyFull(proof) {
  const announcement = get(proof, "announcement");
  const full = get(proof, "full_announcement");
  const [problems, announced] = await announcementProblems(proof);
  if (!isDict(full)) return [...problems, "full_announcement: must be an object"];
  problems.push(
    ...formProblems({ announcement: full }, true).map((p) => `full_announcement: ${p}`),
  );
  const keyHex = get(proof, "blinding_key");
  if (!isStr(keyHex) || !HEX64.test(keyHex))
    return [...problems, "blinding_key: must be 64 hex digits"];
  const key = hexToBytes(keyHex);
  let text;
  let lines;
  try {
    [text, lines] = poolOf(proof);
  } catch (error) {
    if (!isPy(error, "ValueError")) throw error;
    return [...problems, `pool: ${error.message}`];
  }
  const digest = await poolTextHash(text);
  const tabs = poolLineProblems(lines);
  if (tabs.length) return [...problems, ...tabs];
  problems.push(...poolProblems(lines, full, digest));
  problems.push(...fullPairProblems(full, lines));
  let derived;
  try {
    derived = await publicAnnouncement(full, key, await treeRoots(full, lines, key));
  } catch (error) {
    if (!isPy(error, "ValueError", "KeyError", "TypeError", "IndexError")) throw error;
    return [...problems, `the public announcement cannot be derived: ${error.message}`];
  }
  for (const name of pySorted(new Set([...keysOf(derived), ...keysOf(announcement)]))) {
    if (!pyEq(get(derived, name), get(announcement, name))) {
      problems.push(
        `announcement.${name}: is not what the full announcement, the key and the pool give`,
      );
    }
  }
  let expected;
  let positions;
  try {
    [expected, positions] = await compute(
      merged(proof, { announcement: full }),
      text,
      lines,
      digest,
      { announced },
    );
  } catch (error) {
    if (!isPy(error, "ValueError", "KeyError", "TypeError")) throw error;
    return [...problems, recomputeProblem(error)];
  }
  problems.push(...drawnLineProblems(lines, positions));
  problems.push(...capProblems(full, expected.strata));
  problems.push(...poolSpecProblems(full, starredOf(expected.selection), (i) => inPool(lines, i)));
  problems.push(...compareResult(expected, item(proof, "result")));
  return problems;
}

/** An ssj-draw-2 proof: the whole pool and announcement are in it. */
async function verifyV2(proof) {
  const announcement = get(proof, "announcement");
  let text;
  let lines;
  try {
    [text, lines] = poolOf(proof);
  } catch (error) {
    if (!isPy(error, "ValueError")) throw error;
    return [`pool: ${error.message}`];
  }
  const problems = [...documentProblems(proof), ...formProblems(proof)];
  const announced = await announcementHash(announcement);
  if (!pyEq(get(proof, "announcement_hash"), announced)) {
    problems.push(
      `announcement_hash: the proof says ${pyStr(get(proof, "announcement_hash"))}, its ` +
        `announcement hashes to ${announced}`,
    );
  }
  problems.push(...downgradeProblems(announcement));
  const tabs = poolLineProblems(lines);
  if (tabs.length) return [...problems, ...tabs];
  const digest = await poolTextHash(text);
  problems.push(...poolProblems(lines, announcement, digest));
  problems.push(...requestProblems(get(proof, "replacements", [])));
  problems.push(...(await secretProblems(proof, get(announcement, "commitment"))));
  let expected;
  try {
    [expected] = await compute(proof, text, lines, digest);
  } catch (error) {
    if (!isPy(error, "ValueError", "KeyError", "TypeError")) throw error;
    return [...problems, recomputeProblem(error)];
  }
  problems.push(...compareResult(expected, item(proof, "result")));
  return problems;
}

/** Everything in the proof that does not match its recomputation (verify.verify). */
async function verify(proof) {
  const recorded = get(proof, "result");
  if (!isDict(recorded)) return ["the proof has no result to verify (use replay to compute one)"];
  const announcement = get(proof, "announcement");
  if (!isDict(announcement)) return ["announcement: must be an object"];
  const protocol = get(announcement, "protocol");
  if (pyEq(protocol, PROTOCOL_V3))
    return hasKey(proof, "full_announcement") ? verifyFull(proof) : verifyPublic(proof);
  if (!pyEq(protocol, PROTOCOL_V2))
    return [`protocol: ${repr(protocol)} is none of ${PROTOCOLS.join(", ")}`];
  return verifyV2(proof);
}

// ---------------------------------------------------------------------------------------
// The citizen's checks: each problem under the step it belongs to
// ---------------------------------------------------------------------------------------

const CHECKS = [
  ["form", "协议与格式"],
  ["announcement_hash", "公告哈希"],
  ["pool", "抽查对象库"],
  ["commitment", "承诺与密钥"],
  ["entropy", "随机数来源"],
  ["seed", "随机种子"],
  ["selection", "抽取结果"],
  ["groups", "检查人员分组"],
  ["replacements", "递补"],
];
const OTHER_CHECK = ["other", "其他"];

// A problem's step, by how it begins (the first prefix that matches).
const CHECK_OF_PREFIX = [
  ["the proof has no result", "form"],
  ["proof:", "form"],
  ["fields:", "form"],
  ["batch_id", "form"],
  ["plan_id", "form"],
  ["announcement_hash", "announcement_hash"],
  ["announcement.", "announcement_hash"], // the public announcement is not the full one's
  ["the public announcement cannot be derived", "pool"],
  ["announcement:", "form"],
  ["protocol", "form"],
  ["full_announcement", "form"],
  ["blinding_key", "commitment"],
  ["pool_size: must", "form"],
  ["pool", "pool"], // pool:, pool_hash, pool_size, pool_roots, pool line of, pool_spec
  ["private_hash", "pool"],
  ["opened", "pool"],
  ["commitment", "commitment"],
  ["secret", "commitment"],
  ["the secret", "commitment"],
  ["non-hexadecimal", "commitment"],
  ["fromhex", "commitment"],
  ["'secret'", "commitment"],
  ["entropy", "entropy"],
  ["'entropy'", "entropy"],
  ["announced_at", "entropy"],
  ["executed_at", "entropy"],
  // The entropy's format, read with the timing (entropy.EntropyFormat's own words).
  ["a format", "entropy"],
  ["a group has at least", "groups"],
  ["a group", "entropy"],
  ["format groups", "entropy"],
  ["group ", "entropy"],
  ["count must", "entropy"],
  ["low must", "entropy"],
  ["high must", "entropy"],
  ["seed", "seed"],
  ["strata: recorded", "selection"],
  ["selection", "selection"],
  ["result:", "selection"],
  ["groups", "groups"],
  ["rules.", "form"],
  ["the initiating department", "groups"],
  ["replacement", "replacements"],
  ["max_replacements", "replacements"],
  ["rules", "form"],
  ["strata", "form"],
  ["min_group_size", "form"],
  ["departments", "form"],
  ["roster", "form"],
  ["conflicts", "form"],
  ["previous", "form"],
  ["attempt", "form"],
  ["draw_id", "form"],
];
// A recomputation that failed is put where its cause lies: by the exception, or by the
// cause's own words; otherwise under the selection, which it could not recompute.
const CHECK_OF_EXCEPTION = {
  ReplacementError: "replacements",
  NoValidGroup: "groups",
  EntropyError: "entropy",
};
const RECOMPUTE_OVERRIDES = [["rules.", "groups"]];

function checkOf(problem) {
  if (problem.startsWith(`${UNREADABLE}: `)) return "form";
  const failed = /^the draw cannot be recomputed: (\w+): ([\s\S]*)$/.exec(problem);
  if (failed) {
    const [, exception, cause] = failed;
    if (Object.hasOwn(CHECK_OF_EXCEPTION, exception)) return CHECK_OF_EXCEPTION[exception];
    const found = [...RECOMPUTE_OVERRIDES, ...CHECK_OF_PREFIX].find(([p]) => cause.startsWith(p));
    return found && found[1] !== "form" ? found[1] : "selection";
  }
  const found = CHECK_OF_PREFIX.find(([prefix]) => problem.startsWith(prefix));
  return found ? found[1] : OTHER_CHECK[0];
}

/**
 * Verify a draw proof as `ssj draw verify` does: the public ssj-draw-3 proof (GET
 * /v1/draws/{id}/proof), the full ssj-draw-3 proof (auditors) or an ssj-draw-2 proof.
 *
 * Returns {problems, checks}: `problems` are exactly the reference's (empty: everything
 * matches); `checks` are the steps a citizen follows, in order, each {id, label, ok,
 * details} with the problems that belong to it ("other", 其他, only when a problem fits
 * no step). A proof that breaks the checks themselves (the reference's checks raise on
 * it) is one problem naming the exception, as `ssj draw verify` reports it.
 */
const UNREADABLE = "the verifier cannot read this proof";

export async function verifyProof(proof) {
  let problems;
  try {
    problems = await verify(proof);
  } catch (error) {
    if (!(error instanceof PyError)) throw error;
    problems = [`${UNREADABLE}: ${error.pyType}: ${error.message}`];
  }
  const steps = [...CHECKS];
  if (problems.some((p) => checkOf(p) === OTHER_CHECK[0])) steps.push(OTHER_CHECK);
  const checks = steps.map(([id, label]) => {
    const details = problems.filter((p) => checkOf(p) === id);
    return { id, label, ok: details.length === 0, details };
  });
  return { problems, checks };
}
