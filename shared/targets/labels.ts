/**
 * Rules for extra labels that app teams may add through parameters. The same rules back
 * the published parameter schema, so `cf bind-service -c` fails before anything is written.
 */
export const LABEL_NAME_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]*$';
export const LABEL_NAME_REGEX = new RegExp(LABEL_NAME_PATTERN);
/** Set by the broker on every target; a parameter must not override them. */
export const RESERVED_LABELS = ['job', 'instance', 'org', 'space'] as const;
export const MAX_EXTRA_LABELS = 20;
export const MAX_LABEL_NAME_LENGTH = 100;
export const MAX_LABEL_VALUE_LENGTH = 256;

/** Explains why a label name is refused, or undefined if it is allowed. */
export function extraLabelProblem(name: string): string | undefined {
  if (!LABEL_NAME_REGEX.test(name)) return `"${name}" is not a valid Prometheus label name (letters, digits and "_", not starting with a digit)`;
  if (name.startsWith('__')) return `"${name}" starts with "__", which Prometheus reserves for internal labels`;
  if ((RESERVED_LABELS as readonly string[]).includes(name)) return `"${name}" is set by the broker and cannot be overridden`;
  if (name.length > MAX_LABEL_NAME_LENGTH) return `"${name.slice(0, 20)}…" is longer than ${MAX_LABEL_NAME_LENGTH} characters`;
  return undefined;
}
