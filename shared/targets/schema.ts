import Ajv, { ErrorObject } from 'ajv';
import { HOST_NAME_PATTERN, MAX_METRICS_PATH_LENGTH, PATH_PATTERN } from './host';
import { MAX_APP_LABELS } from './app-metadata';
import { DEFAULT_SCRAPE_BOUNDS, durationMs, MAX_DURATION_LENGTH, MIN_SCRAPE_TIMEOUT_SECONDS, ScrapeBounds } from './duration';
import {
  CONTROL_CHARACTER_REGEX, extraLabelProblem, extraLabelValueProblem, LABEL_NAME_PATTERN, MAX_EXTRA_LABELS,
} from './labels';
import { RESERVED_JOB_REGEX } from './render';

/**
 * The one schema of a target file: exactly what render.ts writes, and nothing a tampered
 * object could use to point Prometheus elsewhere or change how it scrapes. Every writer
 * (bind, reconcile) checks a file before it is stored; every reader (the sidecar, GET
 * /targets, a binding fetch) checks it before it is used.
 *
 * A file is a JSON array of at most MAX_TARGET_GROUPS groups, each exactly
 *   {"targets": [<one host name>], "labels": {...}}
 * with the labels
 *   job                            1-300 characters, not a reserved job name (render.ts)
 *   org, space                     0-300 characters (empty when the CC did not name them)
 *   instance                       "<__param_cf_app_guid>:<__param_cf_app_instance_index>"
 *   __param_cf_app_guid            [0-9A-Za-z-]{1,64}
 *   __param_cf_app_instance_index  digits, no leading zero, at most 6
 *   __param_cf_app_instance        equal to instance
 *   __metrics_path__               the bind `path` rules, at most 1024 characters
 *   __param_cf_app_scheme          optional: http or https
 *   __scrape_interval__            optional: a Prometheus duration within the ScrapeBounds
 *   __scrape_timeout__             optional: a Prometheus duration, 1 s up to the interval (up to
 *                                  the smallest interval allowed when there is no interval label)
 * and at most MAX_USER_LABELS user labels that follow the bind parameter rules (labels.ts).
 *
 * User labels come from the bind's and the instance's `labels` parameters (at most
 * MAX_EXTRA_LABELS after merging) and from the app's CF labels an operator lists in APP_LABELS
 * (at most MAX_APP_LABELS). Readers (the sidecar, GET /targets) do not know APP_LABELS, so the
 * rule they check is the one both sources share: a Prometheus label name, not reserved (job,
 * instance, org, space), not starting "__" or "cf_app_discovery_", at most 100 characters, a
 * value of at most 256 characters without control characters, and at most MAX_USER_LABELS of
 * them. APP_LABELS is refused at start unless every name it makes passes this very rule
 * (extraLabelProblem), so a reader never refuses what a writer renders; nothing starting "__"
 * beyond the labels above gets through, so no user label can change where or how Prometheus
 * scrapes.
 * No other label (no __address__, __scheme__, other __param_*, nothing else starting "__"),
 * and no control character in any value.
 */

/** User labels per target: the merged `labels` parameters and the APP_LABELS labels. */
export const MAX_USER_LABELS = MAX_EXTRA_LABELS + MAX_APP_LABELS;

/** Larger than any real target file (5,000 instances with 20 labels each is ~3.5 MB). */
export const MAX_TARGET_FILE_BYTES = 4 * 1024 * 1024;
/** Groups (instances) in one file; the Cloud Controller side keeps apps within it too. */
export const MAX_TARGET_GROUPS = 5000;
/** job, org and space: Cloud Controller names are at most 255 characters, plus "app-" for a reserved job. */
export const MAX_NAME_LABEL_LENGTH = 300;

export { DEFAULT_SCRAPE_BOUNDS, durationMs, MIN_SCRAPE_TIMEOUT_SECONDS } from './duration';
export type { ScrapeBounds } from './duration';

export interface TargetSchemaOptions {
  scrape?: ScrapeBounds;
}

const GUID_PATTERN = '^[0-9A-Za-z-]{1,64}$';
const INDEX_PATTERN = '^(0|[1-9][0-9]{0,5})$';
const INSTANCE_PATTERN = `^[0-9A-Za-z-]{1,64}:(0|[1-9][0-9]{0,5})$`;
const REQUIRED_LABELS = [
  'job', 'org', 'space', 'instance', '__metrics_path__',
  '__param_cf_app_guid', '__param_cf_app_instance_index', '__param_cf_app_instance',
] as const;
const OPTIONAL_LABELS = ['__param_cf_app_scheme', '__scrape_interval__', '__scrape_timeout__'] as const;
const OWN_LABELS = new Set<string>([...REQUIRED_LABELS, ...OPTIONAL_LABELS]);

const name = { type: 'string', maxLength: MAX_NAME_LABEL_LENGTH };
const FILE_SCHEMA = {
  type: 'array',
  maxItems: MAX_TARGET_GROUPS,
  items: {
    type: 'object',
    required: ['targets', 'labels'],
    additionalProperties: false,
    properties: {
      targets: { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string', pattern: HOST_NAME_PATTERN } },
      labels: {
        type: 'object',
        required: REQUIRED_LABELS,
        maxProperties: REQUIRED_LABELS.length + OPTIONAL_LABELS.length + MAX_USER_LABELS,
        propertyNames: { pattern: LABEL_NAME_PATTERN },
        additionalProperties: { type: 'string' },
        properties: {
          job: { ...name, minLength: 1 },
          org: name,
          space: name,
          instance: { type: 'string', pattern: INSTANCE_PATTERN },
          __param_cf_app_guid: { type: 'string', pattern: GUID_PATTERN },
          __param_cf_app_instance_index: { type: 'string', pattern: INDEX_PATTERN },
          __param_cf_app_instance: { type: 'string', pattern: INSTANCE_PATTERN },
          __metrics_path__: { type: 'string', maxLength: MAX_METRICS_PATH_LENGTH, pattern: PATH_PATTERN },
          __param_cf_app_scheme: { type: 'string', enum: ['http', 'https'] },
          __scrape_interval__: { type: 'string', maxLength: MAX_DURATION_LENGTH },
          __scrape_timeout__: { type: 'string', maxLength: MAX_DURATION_LENGTH },
        },
      },
    },
  },
};

const validateShape = new Ajv({ allErrors: false, strict: true }).compile(FILE_SCHEMA);

const quoted = (label: string) => JSON.stringify(label.length > 60 ? `${label.slice(0, 40)}…` : label);

/** A person-readable place: "group 3 label \"job\"". JSON pointer escapes are undone. */
function place(pointer: string): string {
  const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (parts.length === 0) return 'the file';
  let text = `group ${parts[0]}`;
  if (parts[1] === 'targets') text += parts.length > 2 ? ' target' : ' targets';
  if (parts[1] === 'labels' && parts.length > 2) text += ` label ${quoted(parts[2])}`;
  else if (parts[1] === 'labels') text += ' labels';
  return text;
}

function describeShapeError(e: ErrorObject | undefined): string {
  if (!e) return 'the file is not a target list';
  const where = place(e.instancePath);
  const params = e.params as Record<string, unknown>;
  if (e.propertyName !== undefined) return `${where}: ${quoted(e.propertyName)} is not a valid Prometheus label name`;
  switch (e.keyword) {
    case 'maxItems':
      return e.instancePath === '' ? `more than ${MAX_TARGET_GROUPS} target groups` : `${where} must name exactly one host`;
    case 'minItems':
      return `${where} must name exactly one host`;
    case 'required':
      return `${where} lacks ${quoted(String(params.missingProperty))}`;
    case 'additionalProperties':
      return `${where} has an unexpected field ${quoted(String(params.additionalProperty))}`;
    case 'maxProperties':
      return `${where}: more than ${String(params.limit)} labels`;
    case 'pattern':
      if (/\/targets\/\d+$/.test(e.instancePath)) return `${where} is not a host name (no port, scheme, path or wildcard)`;
      return `${where} is not of the allowed form`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

/** The rules JSON Schema cannot say: label names, equalities, durations, control characters. */
function groupProblem(index: number, labels: Record<string, string>, bounds: ScrapeBounds): string | undefined {
  const at = (label: string) => `group ${index} label ${quoted(label)}`;
  let extra = 0;
  for (const [label, value] of Object.entries(labels)) {
    if (CONTROL_CHARACTER_REGEX.test(value)) return `${at(label)} contains a control character`;
    if (OWN_LABELS.has(label)) continue;
    const nameProblem = extraLabelProblem(label);
    if (nameProblem) return `group ${index}: label ${nameProblem}`;
    const valueProblem = extraLabelValueProblem(value);
    if (valueProblem) return `${at(label)} ${valueProblem}`;
    if (++extra > MAX_USER_LABELS) return `group ${index}: more than ${MAX_USER_LABELS} user labels`;
  }
  if (RESERVED_JOB_REGEX.test(labels.job)) return `${at('job')} names a platform component`;
  const instance = `${labels.__param_cf_app_guid}:${labels.__param_cf_app_instance_index}`;
  if (labels.instance !== instance) return `${at('instance')} is not __param_cf_app_guid:__param_cf_app_instance_index`;
  if (labels.__param_cf_app_instance !== instance) return `${at('__param_cf_app_instance')} differs from instance`;
  let intervalMs: number | undefined;
  if (labels.__scrape_interval__ !== undefined) {
    intervalMs = durationMs(labels.__scrape_interval__);
    if (intervalMs === undefined) return `${at('__scrape_interval__')} is not a Prometheus duration`;
    if (intervalMs < bounds.minIntervalSeconds * 1000 || intervalMs > bounds.maxIntervalSeconds * 1000) {
      return `${at('__scrape_interval__')} is outside ${bounds.minIntervalSeconds}s-${bounds.maxIntervalSeconds}s`;
    }
  }
  if (labels.__scrape_timeout__ !== undefined) {
    const timeoutMs = durationMs(labels.__scrape_timeout__);
    if (timeoutMs === undefined) return `${at('__scrape_timeout__')} is not a Prometheus duration`;
    // Without an interval label Prometheus uses the job's interval, unknown here: the smallest
    // allowed interval is the limit every job within the bounds honours (as targetOptions renders).
    const limitMs = intervalMs ?? bounds.minIntervalSeconds * 1000;
    if (timeoutMs < MIN_SCRAPE_TIMEOUT_SECONDS * 1000 || timeoutMs > limitMs) {
      return `${at('__scrape_timeout__')} is outside ${MIN_SCRAPE_TIMEOUT_SECONDS}s-${limitMs / 1000}s${intervalMs !== undefined ? ' (the interval)' : ''}`;
    }
  }
  return undefined;
}

/**
 * Why these groups are not a target file this project would write, or undefined. The first
 * problem only, naming the group and the label; never a value, so it is safe to log.
 */
export function targetGroupsProblem(groups: unknown, options: TargetSchemaOptions = {}): string | undefined {
  if (!validateShape(groups)) return describeShapeError(validateShape.errors?.[0]);
  const bounds = options.scrape ?? DEFAULT_SCRAPE_BOUNDS;
  const list = groups as Array<{ labels: Record<string, string> }>;
  for (let i = 0; i < list.length; i++) {
    const problem = groupProblem(i, list[i].labels, bounds);
    if (problem) return problem;
  }
  return undefined;
}

/** Why a body is larger than any reader accepts, or undefined. */
function sizeProblem(body: string): string | undefined {
  // UTF-16 length bounds the UTF-8 size from below: skip counting bytes of bodies far too large.
  if (body.length > MAX_TARGET_FILE_BYTES || Buffer.byteLength(body, 'utf8') > MAX_TARGET_FILE_BYTES) return `larger than ${MAX_TARGET_FILE_BYTES} bytes`;
  return undefined;
}

/**
 * For writers: why `groups`, serialized as `body`, must not be written. The size matters as much
 * as the shape: every reader refuses a file over MAX_TARGET_FILE_BYTES, and an app at the instance
 * bound with many long labels renders one.
 */
export function targetFileWriteProblem(groups: unknown, body: string, options: TargetSchemaOptions = {}): { problem: string; tooLarge: boolean } | undefined {
  const tooLarge = sizeProblem(body);
  if (tooLarge) return { problem: tooLarge, tooLarge: true };
  const problem = targetGroupsProblem(groups, options);
  return problem ? { problem, tooLarge: false } : undefined;
}

/** The same for a file's body as read from the store: its size first, then JSON, then the schema. */
export function targetFileProblem(body: string, options: TargetSchemaOptions = {}): string | undefined {
  const tooLarge = sizeProblem(body);
  if (tooLarge) return tooLarge;
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'not valid JSON';
  }
  return targetGroupsProblem(value, options);
}

/**
 * A rendered file that is never written: it breaks the schema (a bug, or a Cloud Controller
 * answer out of bounds), or it is too large for any reader (`tooLarge`: the app's instances
 * times its labels, something the app team can change).
 */
export class InvalidTargetFileError extends Error {
  constructor(readonly bindingId: string, readonly problem: string, readonly tooLarge = false) {
    super(`refusing to write the target file of binding ${bindingId}: ${problem}`);
    this.name = 'InvalidTargetFileError';
  }
}
