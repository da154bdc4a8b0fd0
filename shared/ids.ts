/**
 * Ids that arrive from the platform (instance, binding, app guids) become store keys and,
 * on Prometheus hosts, file names. Only this shape is ever allowed to reach a key: the
 * URL-safe characters OSB recommends for ids (letters, digits, `-`, `_`, `.`, `~`), starting
 * with a letter or digit, at most 128 characters. That excludes `/`, `\`, NUL, `.` and `..`
 * as a whole id and any leading dot (temp files start with one) or `~`.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$/;
export const MAX_ID_LENGTH = 128;

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/** Explains why an id is refused, in words a person can act on; undefined when it is fine. */
export function idProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value.length === 0) return 'must not be empty';
  if (value.length > MAX_ID_LENGTH) return `is ${value.length} characters long; at most ${MAX_ID_LENGTH} are allowed`;
  if (!ID_PATTERN.test(value)) {
    return 'may contain only letters, digits, "-", "_", "." and "~" and must start with a letter or digit';
  }
  return undefined;
}
