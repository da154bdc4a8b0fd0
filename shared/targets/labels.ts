/**
 * Rules for extra labels that app teams may add through parameters. The same rules back
 * the published parameter schema (shared/targets/parameters-schema.ts), so `cf bind-service -c`
 * fails before anything is written, and the target file schema (shared/targets/schema.ts), so
 * a tampered file cannot carry a label a bind could not.
 */
export const LABEL_NAME_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]*$';
export const LABEL_NAME_REGEX = new RegExp(LABEL_NAME_PATTERN);
/** Set by the broker on every target; a parameter must not override them. */
export const RESERVED_LABELS = ['job', 'instance', 'org', 'space'] as const;
/** Label names of this project's own metrics: an app's targets must not look like them. */
export const RESERVED_LABEL_PREFIX = 'cf_app_discovery_';
export const MAX_EXTRA_LABELS = 20;
export const MAX_LABEL_NAME_LENGTH = 100;
/** In characters (code points), as JSON Schema's maxLength counts them. */
export const MAX_LABEL_VALUE_LENGTH = 256;

/**
 * Characters no label value may hold: C0 controls, DEL, C1 controls (U+0085 NEL among them)
 * and the Unicode line and paragraph separators. Each breaks a log line or a config file.
 * A character class body, for regular expressions here and in JSON Schema patterns.
 */
export const CONTROL_CHARACTER_CLASS = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029';
export const CONTROL_CHARACTER_REGEX = new RegExp(`[${CONTROL_CHARACTER_CLASS}]`);
/** A JSON Schema pattern for "no control character anywhere". */
export const NO_CONTROL_CHARACTER_PATTERN = `^[^${CONTROL_CHARACTER_CLASS}]*$`;

/** Length in characters (code points), not UTF-16 units. */
export function characters(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

/** Explains why a label name is refused, or undefined if it is allowed. */
export function extraLabelProblem(name: string): string | undefined {
  const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}…` : name);
  if (!LABEL_NAME_REGEX.test(name)) return `${shown} is not a valid Prometheus label name (letters, digits and "_", not starting with a digit)`;
  if (name.startsWith('__')) return `${shown} starts with "__", which Prometheus reserves for internal labels`;
  if ((RESERVED_LABELS as readonly string[]).includes(name)) return `${shown} is set by the broker and cannot be overridden`;
  if (name.startsWith(RESERVED_LABEL_PREFIX)) return `${shown} starts with "${RESERVED_LABEL_PREFIX}", which names this service's own metrics`;
  if (name.length > MAX_LABEL_NAME_LENGTH) return `${shown} is longer than ${MAX_LABEL_NAME_LENGTH} characters`;
  return undefined;
}

/** Explains why an extra label's value is refused, or undefined if it is allowed. */
export function extraLabelValueProblem(value: string): string | undefined {
  if (CONTROL_CHARACTER_REGEX.test(value)) return 'contains a control character';
  if (characters(value) > MAX_LABEL_VALUE_LENGTH) return `is longer than ${MAX_LABEL_VALUE_LENGTH} characters`;
  return undefined;
}
