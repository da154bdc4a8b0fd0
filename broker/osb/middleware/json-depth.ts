/**
 * Deepest nesting of objects and arrays the broker reads in a request body. OSB bodies nest
 * three or four levels (context, parameters.labels); 32 leaves room for any platform's context
 * while keeping every later walk of the value (comparison, schema checks, logging) far from
 * the stack limit that thousands of levels reach.
 */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether `text` (JSON) nests deeper than `limit`, counting brackets outside strings: one
 * linear pass before parsing, so the parser never builds a value deeper than the limit.
 * Invalid JSON is left for the parser to refuse.
 */
export function jsonNestingExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** Thrown from body-parser's `verify` hook; the error mapper turns it into a 400. */
export class JsonTooDeepError extends Error {
  readonly type = 'entity.too.deep';
  readonly status = 400;
  readonly expose = true;
  constructor() {
    super(`The request body nests JSON objects or arrays more than ${MAX_JSON_DEPTH} levels deep.`);
  }
}

/**
 * body-parser `verify` option: refuses a body nested beyond MAX_JSON_DEPTH before it is
 * parsed. It gets the raw bytes and the charset the parser will decode them with.
 */
export function verifyJsonDepth(_req: unknown, _res: unknown, bytes: Buffer, encoding: string): void {
  const text = /^utf-?8$/i.test(encoding) ? bytes.toString('utf8') : new TextDecoder(encoding).decode(bytes);
  if (jsonNestingExceeds(text, MAX_JSON_DEPTH)) throw new JsonTooDeepError();
}
