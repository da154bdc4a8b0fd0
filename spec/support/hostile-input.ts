import { brotliCompressSync, brotliDecompressSync, deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import fc from 'fast-check';
import { BROKER_PASS, BROKER_USER } from './broker-harness';
import { bindBody, provisionBody } from './osb-client';

/**
 * Generators of requests that the broker must refuse. Each generated request carries at
 * least one "refusal": a hostile element that on its own makes the request invalid, with the
 * statuses it may cause. Other hostile elements ("noise": garbled identities, prototype keys,
 * unicode, deep nesting) are layered on top; they must not change the verdict.
 *
 * What counts as valid is restated here from the README, ARCHITECTURE.md and the OSB spec, not imported from the
 * production validators, so a too-lenient validator shows up as a 2xx or a changed store.
 */

/** What the seeded store holds; requests aim at it so handlers find something. */
export interface World {
  serviceId: string;
  planId: string;
  instanceId: string;
  bindingId: string;
  appGuid: string;
}

export type Method = 'GET' | 'PUT' | 'PATCH' | 'DELETE' | 'POST' | 'OPTIONS';

export const ROUTES = [
  'catalog',
  'provision',
  'update',
  'deprovision',
  'get instance',
  'bind',
  'unbind',
  'get binding',
  'instance last_operation',
  'binding last_operation',
  'update-targets',
  'targets',
  'unknown path',
] as const;
export type RouteName = (typeof ROUTES)[number];

type Body =
  | { kind: 'none' }
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; bytes: Buffer; contentType?: string; contentEncoding?: string };

/** A request under construction; mutations replace parts of it. */
interface Draft {
  method: Method;
  /** Path with `{i}` and `{b}` where the (already percent-encoded) ids go. */
  template: string;
  instance: string;
  binding: string;
  query: string[];
  auth?: string;
  version?: string;
  headers: Record<string, string>;
  body: Body;
  /** Content-Type sent with a `json` body. */
  jsonType: string;
}

export interface Refusal {
  what: string;
  statuses: readonly number[];
}

export interface HostileRequest {
  route: RouteName;
  method: Method;
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
  refusals: Refusal[];
  noise: string[];
}

interface Mutation {
  /** Two refusals of the same category would overwrite each other; only the first applies. */
  category: string;
  what: string;
  apply(d: Draft): void;
}
interface RefusalMutation extends Mutation {
  statuses: readonly number[];
}

// ---- what is valid, restated ------------------------------------------------------------

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;
/** OSB bodies nested deeper than this are refused with 400 before any handler reads them. */
const MAX_JSON_DEPTH = 32;
/** Nesting depth of JSON text, by brackets outside strings (iterative: bodies go 20,000 deep). */
function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[' || c === '{') deepest = Math.max(deepest, ++depth);
    else if (c === ']' || c === '}') depth--;
  }
  return deepest;
}
const RESERVED = ['job', 'instance', 'org', 'space'];
const isAllowedLabelName = (n: string) =>
  /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(n) && !n.startsWith('__') && !RESERVED.includes(n) && n.length <= 100;
const isAllowedMetricsPath = (p: unknown) =>
  typeof p === 'string' &&
  p.length <= 256 &&
  p.startsWith('/') &&
  !p.includes('//') &&
  /^[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(p) &&
  !p.split('/').some((s) => s === '.' || s === '..');
const isAcceptedVersion = (v: string) => {
  const m = /^2\.(\d+)$/.exec(v.trim());
  return m !== null && Number(m[1]) >= 13;
};
const VALID_CREDENTIALS = `${BROKER_USER}:${BROKER_PASS}`;
const carriesValidCredentials = (header: string) =>
  (header.match(/[A-Za-z0-9+/=]{4,}/g) ?? []).some(
    (token) => Buffer.from(token, 'base64').toString('utf8') === VALID_CREDENTIALS,
  );

/** Whether the broker's JSON parser would accept these bytes (UTF-8, optional BOM, strict: object or array). */
function parsesAsStrictJson(bytes: Buffer): boolean {
  const text = bytes.toString('utf8').replace(/^\ufeff/, '');
  if (text.length === 0) return true; // body-parser reads an empty body as {}
  if (!/^[ \t\n\r]*[[{]/.test(text)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

// ---- building blocks ---------------------------------------------------------------------

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const basic = (user: string, pass: string) => `Basic ${b64(`${user}:${pass}`)}`;

/** Percent-encodes every UTF-8 byte but unreserved characters (lone surrogates become U+FFFD). */
export function encodeSegment(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Characters that break parsers, logs and file systems. */
const NASTY = [
  '\u202e',
  '\u200f',
  '\u061c',
  '\u0000',
  '\n',
  '\r',
  '\t',
  '\u0007',
  '\u001b',
  '\u007f',
  '\ud800',
  '\udfff',
  '\ufeff',
  '\u2028',
  '\u2029',
  '😀',
  '👨‍👩‍👧',
  '\u0301',
  'é',
  'ß',
  '中',
  '%',
  '%00',
  '/',
  '\\',
  '..',
  '"',
  "'",
  '<',
  '{',
  '}',
  '$',
  '`',
];
const nastyText = (maxLength = 30) =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom(...NASTY),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }),
    ),
    minLength: 1,
    maxLength,
  });
/** Header values Node's HTTP client will send: tab, printable ASCII and Latin-1. */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  fc.constant('\t'),
);
const headerText = (maxLength: number) => fc.string({ unit: headerChar, maxLength });

/** Nested values up to `depth` levels, as attackers send to blow stacks. */
const deepValue = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.boolean()).map(([depth, arrays]) => {
    let v: unknown = 'bottom';
    for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
    return v;
  });

const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  deepValue(1, 200),
);
const notAnObject = fc.oneof(
  fc.integer(),
  fc.boolean(),
  fc.string({ maxLength: 20 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  deepValue(1, 50).map((v) => [v]),
);
/** `null` counts as absent for optional OSB fields, so it is not among these. */
const presentNotAString = notAString.filter((v) => v !== null);

/** Strings that are not the expected value (unknown ids, empty, too long, unicode). */
const otherThan = (expected: string) =>
  fc
    .oneof(
      fc.constant(''),
      nastyText(),
      fc.string({ minLength: 257, maxLength: 400 }),
      fc.constant(expected.toUpperCase()),
      fc.constant(` ${expected}`),
      fc.constant(`${expected}\u0000`),
      fc.constant(expected.replace(/.$/, '\u202e')),
    )
    .filter((s) => s !== expected);

/** Object with an own `__proto__` key, as JSON.parse makes it (an object literal would set the prototype). */
const withOwn = (entries: Array<[string, unknown]>) => Object.fromEntries(entries);

// ---- labels and parameters ----------------------------------------------------------------

const badLabelName = fc
  .oneof(
    fc.constantFrom(
      '__foo',
      '__address__',
      '__proto__',
      '__meta_x',
      '1abc',
      '9',
      'a-b',
      'a.b',
      'a b',
      'a:b',
      '',
      'job',
      'instance',
      'org',
      'space',
      'constructor.prototype',
      'é',
      'a\nb',
      'a\u0000',
      '\u202eteam',
      '😀',
      'x'.repeat(101),
    ),
    fc.tuple(fc.constantFrom(...'0123456789-.: /'), fc.stringMatching(/^[a-z_]{0,10}$/)).map(([a, b]) => a + b),
    fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{100,200}$/),
    nastyText(),
  )
  .filter((n) => !isAllowedLabelName(n));

/** Hostile but allowed labels (newlines, RTL, NUL in values) to sit beside a bad one. */
const allowedHostileLabels = fc.dictionary(
  fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/).filter(isAllowedLabelName),
  nastyText(40),
  { maxKeys: 3 },
);

const badLabels = fc.oneof(
  fc.tuple(allowedHostileLabels, badLabelName, fc.string({ maxLength: 10 })).map(([ok, name, value]) => ({
    what: `label name ${JSON.stringify(name)}`,
    labels: withOwn([...Object.entries(ok), [name, value]]),
  })),
  fc
    .tuple(allowedHostileLabels, notAString, fc.stringMatching(/^[a-z][a-z0-9_]{0,9}$/).filter(isAllowedLabelName))
    .map(([ok, value, name]) => ({
      what: `label value ${JSON.stringify(value)?.slice(0, 40)}`,
      labels: { ...ok, [name]: value },
    })),
  fc
    .tuple(
      fc.string({ minLength: 257, maxLength: 600 }),
      fc.stringMatching(/^[a-z][a-z0-9_]{0,9}$/).filter(isAllowedLabelName),
    )
    .map(([value, name]) => ({ what: 'label value over 256 characters', labels: { [name]: value } })),
  fc.constant({ what: '21 labels', labels: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`l${i}`, 'v'])) }),
  notAnObject.map((labels) => ({ what: `labels ${JSON.stringify(labels)?.slice(0, 40)}`, labels })),
  fc.constant({ what: 'labels null', labels: null }),
  fc.constant({ what: 'labels.__proto__', labels: withOwn([['__proto__', { polluted: 'yes' }]]) }),
);

const badMetricsPath = fc
  .oneof(
    fc.constantFrom(
      'metrics',
      '',
      '/a/../b',
      '/..',
      '/.',
      '/a/.',
      '//evil.example/metrics',
      '/a?x=1',
      '/a#b',
      '/a b',
      '/a\nb',
      '\\metrics',
      '/métrics',
      '/a\u0000',
      '/\u202e',
    ),
    nastyText().map((s) => `/${s}`),
    nastyText().map((s) => `m${s}`),
    fc.stringMatching(/^[a-z]{257,300}$/).map((s) => `/${s}`),
    notAString,
  )
  .filter((p) => !isAllowedMetricsPath(p));

const badScheme = fc
  .oneof(fc.constantFrom('HTTP', 'ftp', '', 'https ', 'javascript', 'file', 'http\u0000'), nastyText(), notAString)
  .filter((s) => s !== 'http' && s !== 'https');

const unknownParameterKey = (supported: string[]) =>
  fc
    .oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'prototype',
        'colour',
        'port',
        'Path',
        'LABELS',
        'labels ',
        'toString',
      ),
      nastyText(),
    )
    .filter((k) => !supported.includes(k));

/** Parameters that must be refused, for instance (`labels` only) or binding (`path`, `scheme`, `labels`). */
function badParameters(kind: 'instance' | 'binding'): fc.Arbitrary<{ what: string; parameters: unknown }> {
  const supported = kind === 'instance' ? ['labels'] : ['path', 'scheme', 'labels'];
  const options: Array<fc.Arbitrary<{ what: string; parameters: unknown }>> = [
    badLabels.map(({ what, labels }) => ({ what, parameters: { labels } })),
    fc
      .tuple(
        unknownParameterKey(supported),
        fc.oneof(fc.string(), deepValue(1, 100), fc.constant({ prototype: { polluted: 'yes' } })),
      )
      .map(([key, value]) => ({ what: `parameter ${JSON.stringify(key)}`, parameters: withOwn([[key, value]]) })),
    notAnObject.map((parameters) => ({ what: `parameters ${JSON.stringify(parameters)?.slice(0, 40)}`, parameters })),
  ];
  if (kind === 'binding') {
    options.push(
      badMetricsPath.map((path) => ({ what: `path ${JSON.stringify(path)?.slice(0, 40)}`, parameters: { path } })),
      badScheme.map((scheme) => ({
        what: `scheme ${JSON.stringify(scheme)?.slice(0, 40)}`,
        parameters: { scheme, path: '/metrics' },
      })),
    );
  }
  return fc.oneof(...options);
}

// ---- refusals ------------------------------------------------------------------------------

const refusal = (
  category: string,
  what: string,
  statuses: readonly number[],
  apply: (d: Draft) => void,
): RefusalMutation => ({ category, what, statuses, apply });

const badAuth = fc
  .oneof(
    fc.constant(undefined),
    fc
      .string({ maxLength: 40 })
      .filter((p) => p !== BROKER_PASS)
      .map((p) => basic(BROKER_USER, p)),
    fc
      .string({ maxLength: 40 })
      .filter((u) => u !== BROKER_USER)
      .map((u) => basic(u, BROKER_PASS)),
    fc.constant(basic(BROKER_USER.toUpperCase(), BROKER_PASS)),
    fc.constant(basic(BROKER_USER, `${BROKER_PASS}\u0000`)),
    fc
      .string({ maxLength: 40 })
      .filter((s) => !s.includes(':'))
      .map((s) => `Basic ${b64(s)}`),
    fc.constantFrom(
      'Bearer abc',
      'Basic',
      'Basic ',
      'Basic !!!',
      'Basic ====',
      'Digest username="cf-broker"',
      `Basic ${b64(VALID_CREDENTIALS)} extra`,
      // Right credentials followed by junk after the padding: Node's lenient decoder would read them.
      `Basic ${b64(VALID_CREDENTIALS)}=AAAA`,
      `Basic ${b64(VALID_CREDENTIALS).replace(/=*$/, '=')}QUFB`,
      `${b64(VALID_CREDENTIALS)}`,
      `Basic ${Buffer.from(VALID_CREDENTIALS, 'utf16le').toString('base64')}`,
    ),
    headerText(200).filter((v) => !carriesValidCredentials(v)),
    fc.integer({ min: 250, max: 400 }).map((n) => `Basic ${'QUFB'.repeat(n)}`),
  )
  .map((value) =>
    refusal(
      'auth',
      value === undefined ? 'no Authorization' : `Authorization ${JSON.stringify(value.slice(0, 40))}`,
      [401],
      (d) => {
        d.auth = value;
      },
    ),
  );

const badVersion = fc
  .oneof(
    fc.constant(undefined),
    fc.constantFrom(
      '2.12',
      '2.0',
      '1.15',
      '3.15',
      '2',
      '2.',
      '.15',
      'v2.15',
      '2.15.0',
      '2,15',
      '2.1e1',
      'latest',
      '',
      '2.-15',
      '2.+15',
      '2.15 2.15',
      '\u00b2.15',
    ),
    headerText(60),
    fc.integer({ min: 1000, max: 1500 }).map((n) => '2'.repeat(n)),
  )
  .filter((v) => v === undefined || !isAcceptedVersion(v))
  .map((value) =>
    refusal(
      'version',
      value === undefined ? 'no X-Broker-API-Version' : `X-Broker-API-Version ${JSON.stringify(value.slice(0, 30))}`,
      [412],
      (d) => {
        d.version = value;
      },
    ),
  );

/** Encoded path segments whose decoded value is not a safe id (or that do not decode at all). */
const hostileIdSegment = fc
  .oneof(
    fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '%2E',
      '..%2F..%2Fetc%2Fpasswd',
      '%2F',
      'a%2Fb',
      'a%5Cb',
      'a\\b',
      '%00',
      'a%00b',
      '%ZZ',
      '%',
      'a%E0%A4%A',
      '%ED%A0%80',
      'a%ED%B0%80',
      '%C0%AE%C0%AE',
      '%20',
      '-lead',
      '_lead',
      '.hidden',
      'a%0Ab',
      'a%0D%0Ab',
      '%E2%80%AEevil',
      '%F0%9F%98%80',
      'a%25',
      '~lead',
      '~',
      'a:b',
      'a@b',
      "a'b",
      'a*b',
    ),
    fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._~-]{128,500}$/).map(encodeSegment),
    fc
      .tuple(fc.stringMatching(/^[a-z0-9]{0,8}$/), nastyText(10), fc.stringMatching(/^[a-z0-9]{0,8}$/))
      .map(([a, b, c]) => encodeSegment(a + b + c)),
  )
  .filter((segment) => {
    try {
      return !SAFE_ID.test(decodeURIComponent(segment));
    } catch {
      return true;
    }
  });

const badIdIn = (which: 'instance' | 'binding') =>
  hostileIdSegment.map((segment) =>
    refusal(`${which}-id`, `${which} id ${JSON.stringify(segment.slice(0, 40))}`, [400, 404], (d) => {
      d[which] = segment;
    }),
  );

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8'];

const rawBody = (bytes: Buffer, contentType?: string, contentEncoding?: string): Body => ({
  kind: 'raw',
  bytes,
  contentType,
  contentEncoding,
});

function decompresses(encoding: string, bytes: Buffer): boolean {
  try {
    if (encoding === 'gzip') gunzipSync(bytes);
    else if (encoding === 'deflate') inflateSync(bytes);
    else brotliDecompressSync(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Small compressed bodies that inflate past the 64 KiB limit; built once, they are slow to make. */
const COMPRESSION_BOMBS: Array<{ encoding: string; bytes: Buffer }> = (() => {
  const inflated = Buffer.from(`{"pad":"${' '.repeat(1024 * 1024)}"}`);
  return [
    { encoding: 'gzip', bytes: gzipSync(inflated) },
    { encoding: 'deflate', bytes: deflateSync(inflated) },
    { encoding: 'br', bytes: brotliCompressSync(inflated) },
  ];
})();

/** Bodies the JSON parser itself refuses: every /v2 route, with or without a body of its own. */
const parserRefusal = fc.oneof(
  fc
    .tuple(
      fc.oneof(
        fc.constantFrom(
          '{',
          '{"service_id": ',
          '{"a":1,}',
          "{'a':1}",
          '{"a":NaN}',
          '{"a":undefined}',
          'nul',
          '[1,2',
          '{"a":"\u0000"}',
          '{}}',
          '{"a":1}{"b":2}',
          '--',
          '{"__proto__":}',
          '1',
          '"x"',
          'null',
          'true',
          ' ',
          '\u0000',
          '{"a":"\\x"}',
          '{"a":"\\ud800"',
          '<xml/>',
          'service_id=x&plan_id=y',
        ),
        nastyText(60),
        fc
          .uint8Array({ minLength: 1, maxLength: 60 })
          .map((b) => Buffer.concat([Buffer.from('{"x":'), Buffer.from(b)]).toString('latin1')),
        fc.integer({ min: 1, max: 20000 }).map((n) => '['.repeat(n)),
      ),
      fc.constantFrom(...JSON_TYPES),
    )
    .map(([text, type]) => ({ text, bytes: Buffer.from(text, text.startsWith('{"x":') ? 'latin1' : 'utf8'), type }))
    .filter(({ bytes }) => !parsesAsStrictJson(bytes))
    .map(({ text, bytes, type }) =>
      refusal('body', `malformed JSON ${JSON.stringify(text.slice(0, 30))}`, [400], (d) => {
        d.body = rawBody(bytes, type);
      }),
    ),
  fc.integer({ min: 64 * 1024 - 8, max: 128 * 1024 }).map((n) =>
    refusal('body', `a ${n + 10}-byte body`, [413], (d) => {
      d.body = rawBody(Buffer.from(`{"pad":"${'x'.repeat(n)}"}`), 'application/json');
    }),
  ),
  // (An unparsable Content-Type is not here: the parser then skips the body, as for text/plain.)
  fc
    .constantFrom(
      'latin1',
      'iso-8859-1',
      'us-ascii',
      'windows-1252',
      'shift_jis',
      'koi8-r',
      'utf8',
      'ucs-2',
      'x-hostile',
    )
    .map((charset) =>
      refusal('body', `charset ${charset}`, [415], (d) => {
        d.body = rawBody(Buffer.from('{"service_id":"x"}'), `application/json; charset=${charset}`);
      }),
    ),
  fc.constantFrom('compress', 'x-hostile', 'gzip, gzip', 'zstd', 'identity;q=0', 'deflate-raw', 'exi').map((encoding) =>
    refusal('body', `Content-Encoding ${encoding}`, [415], (d) => {
      d.body = rawBody(Buffer.from('{"service_id":"x"}'), 'application/json', encoding);
    }),
  ),
  fc
    .tuple(fc.constantFrom('gzip', 'deflate', 'br'), fc.uint8Array({ minLength: 0, maxLength: 200 }))
    .filter(([encoding, bytes]) => !decompresses(encoding, Buffer.from(bytes)))
    .map(([encoding, bytes]) =>
      refusal('body', `${bytes.length} bytes that are not ${encoding}`, [400], (d) => {
        d.body = rawBody(Buffer.from(bytes), 'application/json', encoding);
      }),
    ),
  fc.constantFrom(...COMPRESSION_BOMBS).map(({ encoding, bytes }) =>
    refusal('body', `${encoding} bomb (${bytes.length} bytes inflating past 64 KiB)`, [413], (d) => {
      d.body = rawBody(bytes, 'application/json', encoding);
    }),
  ),
);

/** Bodies an object-bodied route (PUT/PATCH) refuses whatever else is right. */
const objectBodyRefusal = fc.oneof(
  fc
    .tuple(
      fc.oneof(
        fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 }).map((value) => JSON.stringify(value)),
        // Written as text: JSON.stringify itself runs out of stack this deep.
        fc.integer({ min: 1, max: 20_000 }).map((depth) => `${'['.repeat(depth)}${'{}'}${']'.repeat(depth)}`),
      ),
      fc.constantFrom(...JSON_TYPES),
    )
    .map(([text, type]) =>
      refusal('body', `top-level array ${text.slice(0, 30)}`, [400], (d) => {
        d.body = rawBody(Buffer.from(text), type);
      }),
    ),
  fc
    .tuple(
      fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/merge-patch+json',
        'application/vnd.api+json',
        'text/json',
        'application/jsonx',
        'json',
        '*/*',
        'application/xml',
        undefined,
      ),
      fc.boolean(),
    )
    .map(([type, asJson]) =>
      refusal('body', `Content-Type ${String(type)}`, [400], (d) => {
        const bytes =
          d.body.kind === 'json' && asJson
            ? Buffer.from(JSON.stringify(d.body.value))
            : Buffer.from('service_id=x&plan_id=y');
        d.body = rawBody(bytes, type);
      }),
    ),
);

/** Sets a field of the JSON object body (own property, even for `__proto__`). */
function setField(d: Draft, field: string, value: unknown) {
  if (d.body.kind !== 'json' || typeof d.body.value !== 'object' || d.body.value === null)
    throw new Error('field refusal on a non-object body');
  const body = d.body.value as Record<string, unknown>;
  if (value === undefined) delete body[field];
  else Object.defineProperty(body, field, { value, enumerable: true, writable: true, configurable: true });
}

const fieldRefusal = (field: string, values: fc.Arbitrary<unknown>, statuses: readonly number[] = [400]) =>
  values.map((value) =>
    refusal(
      'body',
      `${field} ${value === undefined ? 'missing' : JSON.stringify(value)?.slice(0, 40)}`,
      statuses,
      (d) => setField(d, field, value),
    ),
  );

/** `context` or `parameters` nested past the depth limit (stack-overflow bait). */
const tooDeepRefusal = fc
  .tuple(fc.constantFrom('context', 'parameters'), deepValue(MAX_JSON_DEPTH, 2_000))
  .map(([field, value]) =>
    refusal('body', `${field} nested past ${MAX_JSON_DEPTH} levels`, [400], (d) => setField(d, field, { deep: value })),
  );

const parametersRefusal = (kind: 'instance' | 'binding') =>
  badParameters(kind).map(({ what, parameters }) =>
    refusal('body', `${kind} parameters: ${what}`, [400], (d) => setField(d, 'parameters', parameters)),
  );

const requiredStringRefusal = (field: string, expected?: string) =>
  fieldRefusal(
    field,
    fc.oneof(
      fc.constant(undefined),
      fc.constant(''),
      notAString,
      fc.string({ minLength: 257, maxLength: 300 }),
      ...(expected ? [otherThan(expected)] : []),
    ),
  );

const bindAppRefusal = fc.oneof(
  fc
    .oneof(
      hostileIdSegment.map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      }),
      fc.constantFrom('../../etc', '..', '', ' ', 'a/b', 'x'.repeat(129)),
      presentNotAString,
    )
    .map((app) =>
      refusal('body', `app_guid ${JSON.stringify(app)?.slice(0, 40)}`, [400, 422], (d) => {
        setField(d, 'app_guid', app);
        setField(d, 'bind_resource', { app_guid: app, space_guid: 'x' });
      }),
    ),
  fc.constant(
    refusal('body', 'no app (a service key)', [422], (d) => {
      setField(d, 'app_guid', undefined);
      setField(d, 'bind_resource', {});
    }),
  ),
  fieldRefusal('bind_resource', notAnObject),
);

/** Query strings a DELETE refuses: missing, repeated, bracketed or wrong service_id / plan_id. */
const deleteQueryRefusal = (w: World) =>
  fc
    .tuple(
      fc.constantFrom('service_id', 'plan_id'),
      fc.oneof(
        fc.constant({ how: 'missing', pairs: [] as string[] }),
        fc.constant({ how: 'empty', pairs: ['$k='] }),
        fc.constant({ how: 'repeated', pairs: ['$k=$v', '$k=$v'] }),
        fc.constant({ how: 'bracketed', pairs: ['$k[]=$v'] }),
        fc.constant({ how: 'nested', pairs: ['$k[a]=$v'] }),
        fc.constant({ how: 'lone surrogate', pairs: ['$k=%ED%A0%80'] }),
        fc.constant({ how: 'bad escape', pairs: ['$k=%ZZ'] }),
        otherThanQuery().map((v) => ({
          how: `= ${JSON.stringify(v.slice(0, 30))}`,
          pairs: [`$k=${encodeSegment(v)}`],
        })),
      ),
    )
    .map(([key, { how, pairs }]) =>
      refusal('query', `${key} ${how}`, [400], (d) => {
        const valid = key === 'service_id' ? w.serviceId : w.planId;
        d.query = d.query
          .filter((p) => !p.startsWith(`${key}=`))
          .concat(pairs.map((p) => p.replace(/\$k/g, key).replace(/\$v/g, encodeURIComponent(valid))));
      }),
    );
const otherThanQuery = () =>
  fc.oneof(nastyText(), fc.string({ minLength: 257, maxLength: 300 }), fc.constantFrom('x', 'null', 'undefined', '[]'));

const wrongMethod = (template: string, methods: Method[]) =>
  fc.constantFrom(...methods).map((method) =>
    refusal('method', `${method} ${template}`, [404], (d) => {
      d.method = method;
    }),
  );

const pathSuffix = fc
  .constantFrom('/x', '%00', '/..', '/%2e%2e', '%2F..', '.json', ';x', '/%ZZ', '/\u00e9', '%20', '/~')
  .map((suffix) =>
    refusal('path', `path suffix ${JSON.stringify(suffix)}`, [404], (d) => {
      d.template += suffix;
    }),
  );

/** Paths no route serves, with the method; under /v2 they pass the OSB checks first. */
const UNKNOWN_PATHS: Array<[Method, string]> = [
  ['GET', '/v2'],
  ['GET', '/v2/'],
  ['GET', '/v2/catalogue'],
  ['POST', '/v2/catalog'],
  ['PUT', '/v2/catalog'],
  ['GET', '/v2/service_instances'],
  ['POST', '/v2/service_instances/{i}'],
  ['PUT', '/v2/service_instances/{i}/last_operation'],
  ['GET', '/v2/service_instances/{i}/service_bindings'],
  ['GET', '/v2/service_instances/{i}/last_operation/x'],
  ['GET', '/v2/service_instances/{i}/service_bindings/{b}/x'],
  ['PATCH', '/v2/service_instances/{i}/service_bindings/{b}'],
  ['GET', '/v2/%2e%2e/v2/catalog'],
  ['GET', '/v2/..%2Fcatalog'],
  ['GET', '/'],
  ['GET', '/admin'],
  ['POST', '/healthz'],
  ['GET', '/v3/catalog'],
  ['GET', '/%2e%2e/v2/catalog'],
  ['DELETE', '/targets'],
  ['GET', '/.env'],
  ['GET', '/v2/service_instances/{i}/../../catalog'],
  ['GET', '/v2/catalog%00'],
  ['GET', '/\u00e9'],
  // Express answers OPTIONS on known paths itself unless a catch-all follows the routes.
  ['OPTIONS', '/v2/catalog'],
  ['OPTIONS', '/v2/service_instances/{i}'],
  ['OPTIONS', '/v2/service_instances/{i}/service_bindings/{b}'],
  ['OPTIONS', '/targets'],
];

// ---- noise: hostile elements that must not change the verdict ----------------------------

interface Noise {
  what: string;
  apply(d: Draft): void;
}

const headerNoise = fc
  .oneof(
    fc
      .tuple(
        fc.constantFrom('cloudfoundry', 'kubernetes', '', 'x'.repeat(300)),
        fc.oneof(
          headerText(200).map(b64),
          fc.anything({ maxDepth: 3 }).map((v) => b64(JSON.stringify({ user_id: v }) ?? '')),
          deepValue(1, 300).map((v) => b64(JSON.stringify({ user_id: v }))),
          fc.constant(b64('{"user_id": "683ea748-3092-4ff4-b656-39cacc4d5360"')),
          fc.constant(b64('{"__proto__": {"polluted": "yes"}, "user_id": "x"}')),
          fc.constantFrom('!!!', '', '====', '%ZZ'),
        ),
      )
      .map(([platform, value]) => ({ name: 'X-Broker-API-Originating-Identity', value: `${platform} ${value}` })),
    fc
      .tuple(
        fc.constantFrom(
          'X-Broker-API-Originating-Identity',
          'X-Broker-API-Request-Identity',
          'X-Vcap-Request-Id',
          'X-Forwarded-For',
          'Accept',
          'Accept-Language',
          'X-Hostile-Padding',
          'User-Agent',
          'Cookie',
          'Origin',
        ),
        fc.oneof(headerText(120), headerText(2000)),
      )
      .map(([name, value]) => ({ name, value })),
  )
  .map(({ name, value }) => ({
    what: `${name}: ${JSON.stringify(value.slice(0, 30))}${value.length > 30 ? `… (${value.length})` : ''}`,
    apply: (d: Draft) => {
      d.headers[name] = value;
    },
  }));

const queryNoise = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'accepts_incomplete',
        '__proto__',
        '__proto__[polluted]',
        'constructor[prototype][polluted]',
        'x',
        'service_id_x',
        '%ZZ',
        'a%00b',
      ),
      fc.oneof(nastyText(20).map(encodeSegment), fc.constantFrom('%ZZ', '%ED%A0%80', 'yes', 'true', '')),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((pairs) => ({
    what: `query ${pairs
      .map(([k, v]) => `${k}=${v}`)
      .join('&')
      .slice(0, 60)}`,
    apply: (d: Draft) => {
      d.query.push(...pairs.map(([k, v]) => `${k}=${v}`));
    },
  }));

/** Unknown top-level fields, prototype keys, unicode and deep nesting: OSB says ignore unknown fields. */
const bodyFieldNoise = fc
  .array(
    fc.oneof(
      fc.constant<[string, unknown]>(['__proto__', { service_id: 'evil', polluted: 'yes' }]),
      fc.constant<[string, unknown]>(['constructor', { prototype: { polluted: 'yes' } }]),
      fc.constant<[string, unknown]>(['prototype', { polluted: 'yes' }]),
      fc
        .tuple(nastyText(20), nastyText(50))
        .filter(
          ([k]) =>
            ![
              'service_id',
              'plan_id',
              'organization_guid',
              'space_guid',
              'parameters',
              'context',
              'app_guid',
              'bind_resource',
              'previous_values',
            ].includes(k),
        ),
      deepValue(100, 1000).map((v): [string, unknown] => ['x-deep', v]),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((entries) => ({
    what: `extra fields ${entries
      .map(([k]) => JSON.stringify(k))
      .join(', ')
      .slice(0, 60)}`,
    apply: (d: Draft) => {
      if (d.body.kind !== 'json') return;
      for (const [k, v] of entries) setField(d, k, v);
    },
  }));

const contextNoise = fc
  .tuple(fc.dictionary(nastyText(10), nastyText(60), { maxKeys: 4 }), deepValue(0, 1000))
  .map(([entries, deep]) => ({
    what: 'hostile context',
    apply: (d: Draft) => {
      if (d.body.kind !== 'json') return;
      setField(
        d,
        'context',
        withOwn([
          ...Object.entries(entries),
          ['__proto__', { polluted: 'yes' }],
          ['platform', 'cloudfoundry\u0000'],
          ['organization_name', '\u202emy-org'],
          ['deep', deep],
        ]),
      );
    },
  }));

/**
 * Content-Types that look wrong but still name JSON: the parser reads the body as UTF-8 JSON
 * (an unparsable charset parameter falls back to UTF-8), so they decide nothing.
 */
const oddJsonContentType = fc
  .constantFrom(
    'APPLICATION/JSON',
    'application/json; charset="><script>',
    'application/json;;;=',
    'application/json; foo=bar; baz',
    'application/json; charset=UTF-8; charset=latin1',
    ' application/json ',
  )
  .map((type) => ({
    what: `Content-Type ${JSON.stringify(type)}`,
    apply: (d: Draft) => {
      d.jsonType = type;
    },
  }));

const strayJsonBody = fc
  .anything({ maxDepth: 2 })
  .filter((v) => typeof v === 'object' && v !== null)
  .map((value) => ({
    what: `JSON body ${JSON.stringify(value)?.slice(0, 30)}`,
    apply: (d: Draft) => {
      d.body = { kind: 'json', value };
    },
  }));

// ---- routes --------------------------------------------------------------------------------

interface RouteShape {
  method: Method;
  template: string;
  /** Under /v2: API version and JSON body parsing apply. */
  osb: boolean;
  ids: 'none' | 'instance' | 'both';
  /** PUT/PATCH: a JSON object body is required. */
  objectBody: boolean;
}

const SHAPES: Record<Exclude<RouteName, 'unknown path'>, RouteShape> = {
  catalog: { method: 'GET', template: '/v2/catalog', osb: true, ids: 'none', objectBody: false },
  provision: { method: 'PUT', template: '/v2/service_instances/{i}', osb: true, ids: 'instance', objectBody: true },
  update: { method: 'PATCH', template: '/v2/service_instances/{i}', osb: true, ids: 'instance', objectBody: true },
  deprovision: {
    method: 'DELETE',
    template: '/v2/service_instances/{i}',
    osb: true,
    ids: 'instance',
    objectBody: false,
  },
  'get instance': {
    method: 'GET',
    template: '/v2/service_instances/{i}',
    osb: true,
    ids: 'instance',
    objectBody: false,
  },
  bind: {
    method: 'PUT',
    template: '/v2/service_instances/{i}/service_bindings/{b}',
    osb: true,
    ids: 'both',
    objectBody: true,
  },
  unbind: {
    method: 'DELETE',
    template: '/v2/service_instances/{i}/service_bindings/{b}',
    osb: true,
    ids: 'both',
    objectBody: false,
  },
  'get binding': {
    method: 'GET',
    template: '/v2/service_instances/{i}/service_bindings/{b}',
    osb: true,
    ids: 'both',
    objectBody: false,
  },
  'instance last_operation': {
    method: 'GET',
    template: '/v2/service_instances/{i}/last_operation',
    osb: true,
    ids: 'instance',
    objectBody: false,
  },
  'binding last_operation': {
    method: 'GET',
    template: '/v2/service_instances/{i}/service_bindings/{b}/last_operation',
    osb: true,
    ids: 'both',
    objectBody: false,
  },
  'update-targets': { method: 'POST', template: '/update-targets', osb: false, ids: 'none', objectBody: false },
  targets: { method: 'GET', template: '/targets', osb: false, ids: 'none', objectBody: false },
};

function validBody(route: RouteName, w: World): Body {
  const ids = { serviceId: w.serviceId, planId: w.planId };
  switch (route) {
    case 'provision':
      return { kind: 'json', value: provisionBody(ids, { labels: { team: 'fuzz' } }) };
    case 'update':
      return {
        kind: 'json',
        value: { service_id: w.serviceId, plan_id: w.planId, parameters: { labels: { team: 'other' } } },
      };
    case 'bind':
      return { kind: 'json', value: bindBody(ids, w.appGuid, { path: '/metrics', labels: { tier: 'web' } }) };
    default:
      return { kind: 'none' };
  }
}

function refusalsFor(route: RouteName, shape: RouteShape, w: World): fc.Arbitrary<RefusalMutation> {
  const options: Array<fc.Arbitrary<RefusalMutation>> = [badAuth];
  if (shape.osb) options.push(badVersion, parserRefusal);
  if (shape.ids !== 'none') options.push(badIdIn('instance'));
  if (shape.ids === 'both') options.push(badIdIn('binding'));
  if (shape.objectBody) options.push(objectBodyRefusal, tooDeepRefusal);
  if (shape.method === 'DELETE') options.push(deleteQueryRefusal(w));
  let parameters: fc.Arbitrary<RefusalMutation> | undefined;
  switch (route) {
    case 'catalog':
      options.push(pathSuffix);
      break;
    case 'update-targets':
      options.push(wrongMethod(shape.template, ['GET', 'PUT', 'PATCH', 'DELETE']), pathSuffix);
      break;
    case 'targets':
      options.push(wrongMethod(shape.template, ['POST', 'PUT', 'PATCH', 'DELETE']), pathSuffix);
      break;
    case 'provision':
      options.push(
        requiredStringRefusal('service_id', w.serviceId),
        requiredStringRefusal('plan_id', w.planId),
        requiredStringRefusal('organization_guid'),
        requiredStringRefusal('space_guid'),
        fieldRefusal('context', notAnObject),
      );
      parameters = parametersRefusal('instance');
      break;
    case 'update':
      options.push(
        requiredStringRefusal('service_id', w.serviceId),
        fieldRefusal('plan_id', fc.oneof(presentNotAString, otherThan(w.planId))),
        fieldRefusal('context', notAnObject),
      );
      parameters = parametersRefusal('instance');
      break;
    case 'bind':
      options.push(
        requiredStringRefusal('service_id', w.serviceId),
        requiredStringRefusal('plan_id', w.planId),
        bindAppRefusal,
        fieldRefusal('context', notAnObject),
      );
      parameters = parametersRefusal('binding');
      break;
    default:
  }
  // Parameters have the most ways to be wrong, so they get as many cases as all else together.
  const weighted = options.map((arbitrary) => ({ arbitrary, weight: 1 }));
  if (parameters) weighted.push({ arbitrary: parameters, weight: options.length });
  return fc.oneof(...weighted);
}

function noiseFor(shape: RouteShape): fc.Arbitrary<Noise> {
  const options: Array<fc.Arbitrary<Noise>> = [headerNoise, queryNoise];
  if (shape.objectBody) options.push(bodyFieldNoise, contextNoise, oddJsonContentType);
  else if (shape.osb) options.push(strayJsonBody);
  return fc.oneof(...options);
}

const freshId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._~-]{0,40}$/);

/** Requests to one route, each refused for at least one reason. */
export function hostileRequests(route: RouteName, w: World): fc.Arbitrary<HostileRequest> {
  if (route === 'unknown path') return unknownPathRequests(w);
  const shape = SHAPES[route];
  return fc
    .record({
      instance: fc.oneof(fc.constant(w.instanceId), freshId),
      binding: fc.oneof(fc.constant(w.bindingId), freshId),
      noise: fc.array(noiseFor(shape), { maxLength: 3 }),
      first: refusalsFor(route, shape, w),
      second: fc.option(refusalsFor(route, shape, w), { freq: 4 }),
    })
    .map(({ instance, binding, noise, first, second }) => {
      const d = baseDraft(route, shape.method, shape.template, w, instance, binding);
      return finish(route, d, shape.osb, noise, [first, ...(second ? [second] : [])]);
    })
    .filter(fitsNodeHeaderLimit);
}

function unknownPathRequests(w: World): fc.Arbitrary<HostileRequest> {
  return fc
    .record({
      path: fc.constantFrom(...UNKNOWN_PATHS),
      instance: fc.oneof(fc.constant(w.instanceId), freshId),
      binding: fc.oneof(fc.constant(w.bindingId), freshId),
      noise: fc.array(fc.oneof(headerNoise, queryNoise, strayJsonBody), { maxLength: 3 }),
      extra: fc.option(fc.oneof(badAuth, badVersion, parserRefusal), { freq: 3 }),
    })
    .map(({ path: [method, template], instance, binding, noise, extra }) => {
      const d = baseDraft('unknown path', method, template, w, instance, binding);
      const osb = template.startsWith('/v2/') || template === '/v2';
      const here = refusal('path', `${method} ${template}`, [404], () => undefined);
      // The API version is checked under /v2 only; elsewhere a bad one changes nothing.
      const extras = extra && (osb || extra.category === 'auth') ? [extra] : [];
      return finish('unknown path', d, osb, noise, [here, ...extras]);
    })
    .filter(fitsNodeHeaderLimit);
}

function baseDraft(
  route: RouteName,
  method: Method,
  template: string,
  w: World,
  instance: string,
  binding: string,
): Draft {
  return {
    method,
    template,
    instance,
    binding,
    query:
      method === 'DELETE'
        ? [
            'accepts_incomplete=true',
            `plan_id=${encodeURIComponent(w.planId)}`,
            `service_id=${encodeURIComponent(w.serviceId)}`,
          ]
        : [],
    auth: basic(BROKER_USER, BROKER_PASS),
    version: '2.15',
    headers: { 'X-Broker-API-Request-Identity': 'e26cfe4d-3f2c-4f3c-8c8e-1d1c2f3a4b5c' },
    body: validBody(route, w),
    jsonType: 'application/json',
  };
}

function finish(
  route: RouteName,
  d: Draft,
  osb: boolean,
  noise: Noise[],
  candidates: RefusalMutation[],
): HostileRequest {
  if (d.body.kind === 'json') d.body = { kind: 'json', value: structuredClone(d.body.value) };
  for (const n of noise) n.apply(d);
  const refusals: Refusal[] = [];
  const seen = new Set<string>();
  for (const r of candidates) {
    if (seen.has(r.category)) continue;
    seen.add(r.category);
    r.apply(d);
    refusals.push({ what: r.what, statuses: r.statuses });
  }
  const headers: Record<string, string> = { ...d.headers };
  if (d.auth !== undefined) headers.Authorization = d.auth;
  if (d.version !== undefined) headers['X-Broker-API-Version'] = d.version;
  let body: Buffer | undefined;
  if (d.body.kind === 'json') {
    body = Buffer.from(JSON.stringify(d.body.value));
    headers['Content-Type'] = d.jsonType;
  } else if (d.body.kind === 'raw') {
    body = d.body.bytes;
    if (d.body.contentType !== undefined) headers['Content-Type'] = d.body.contentType;
    if (d.body.contentEncoding !== undefined) headers['Content-Encoding'] = d.body.contentEncoding;
  }
  // Noise can only add bytes; past the limit the size is a refusal of its own.
  if (osb && body && body.length > 64 * 1024) refusals.push({ what: `a ${body.length}-byte body`, statuses: [413] });
  // Noise can also nest the body past the depth limit; that too is a refusal of its own.
  const plain = d.body.kind === 'json' || (d.body.kind === 'raw' && d.body.contentEncoding === undefined);
  const depth = osb && body && plain ? jsonDepth(body.toString('utf8')) : 0;
  if (depth > MAX_JSON_DEPTH) refusals.push({ what: `a body nested ${depth} levels deep`, statuses: [400] });
  const path = d.template.replace('{i}', () => d.instance).replace('{b}', () => d.binding);
  const url = d.query.length > 0 ? `${path}?${d.query.join('&')}` : path;
  const request: HostileRequest = {
    route,
    method: d.method,
    url,
    headers,
    body,
    refusals,
    noise: noise.map((n) => n.what),
  };
  // fast-check prints counterexamples with this instead of dumping 100 KiB bodies byte by byte.
  Object.defineProperty(request, fc.toStringMethod, { value: () => describeRequest(request) });
  return request;
}

/** A case as a person reads it: the request, why it must be refused, and the noise around it. */
export function describeRequest(r: HostileRequest): string {
  const headers = Object.entries(r.headers).map(
    ([k, v]) => `${k}: ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…(${v.length})` : v)}`,
  );
  const body = r.body
    ? `${r.body.length} bytes ${JSON.stringify(r.body.subarray(0, 80).toString('latin1'))}`
    : 'no body';
  return [
    `${r.method} ${r.url.length > 200 ? `${r.url.slice(0, 200)}…(${r.url.length})` : r.url}`,
    `refused for: ${r.refusals.map((x) => `${x.what} (${x.statuses.join('/')})`).join('; ')}`,
    `noise: ${r.noise.join('; ') || 'none'}`,
    `headers: ${headers.join(', ')}`,
    `body: ${body}`,
  ].join('\n  ');
}

/** Huge headers, but inside Node's 16 KiB limit: past it Node itself answers, not the broker. */
function fitsNodeHeaderLimit(r: HostileRequest): boolean {
  const bytes = r.url.length + Object.entries(r.headers).reduce((sum, [k, v]) => sum + k.length + v.length + 4, 0);
  return bytes < 14_000;
}
