import Ajv04 from 'ajv-draft-04';
import type { ErrorObject } from 'ajv';
import { DEFAULT_SCRAPE_BOUNDS, DURATION_PATTERN, MAX_DURATION_LENGTH, ScrapeBounds } from './duration';
import { MAX_PATH_PARAMETER_LENGTH, PATH_PATTERN } from './host';
import {
  LABEL_NAME_PATTERN, MAX_EXTRA_LABELS, MAX_LABEL_NAME_LENGTH, MAX_LABEL_VALUE_LENGTH, NO_CONTROL_CHARACTER_PATTERN,
  RESERVED_LABEL_PREFIX, RESERVED_LABELS,
} from './labels';

/**
 * The parameter schemas: published in the catalog (CF validates them as draft-04 and shows
 * them to app teams), enforced by the broker on provision/update/bind, and enforced again on
 * every record read from the store (shared/records/records.ts), so a record edited in the
 * bucket cannot render what a bind would have refused. They live in shared/ so the updater
 * never imports the broker.
 */
const DRAFT_04 = 'http://json-schema.org/draft-04/schema#';

const reserved = RESERVED_LABELS.join('|');
const labelsSchema = {
  type: 'object',
  description: `Extra labels on every target (at most ${MAX_EXTRA_LABELS}); names as Prometheus label names of at most ${MAX_LABEL_NAME_LENGTH} characters, not starting with "__" or "${RESERVED_LABEL_PREFIX}", not ${RESERVED_LABELS.join('/')}; values of at most ${MAX_LABEL_VALUE_LENGTH} characters without control characters`,
  maxProperties: MAX_EXTRA_LABELS,
  patternProperties: {
    // The length lookahead keeps the schema and extraLabelProblem() in step: without it a
    // 101-character name passed the schema and was stored.
    [`^(?!__)(?!${RESERVED_LABEL_PREFIX})(?!(${reserved})$)(?=.{1,${MAX_LABEL_NAME_LENGTH}}$)${LABEL_NAME_PATTERN.slice(1, -1)}$`]: {
      type: 'string', maxLength: MAX_LABEL_VALUE_LENGTH, pattern: NO_CONTROL_CHARACTER_PATTERN,
    },
  },
  additionalProperties: false,
};

/**
 * The syntax of a duration only: the bounds are operator settings that may change, and a stored
 * record must not turn corrupt when they do (targetOptions skips a value outside them). The
 * broker checks the bounds on provision, update and bind (scrapeParametersProblem).
 */
function scrapeSchemas(bounds: ScrapeBounds) {
  const duration = { type: 'string', maxLength: MAX_DURATION_LENGTH, pattern: DURATION_PATTERN };
  const range = `${bounds.minIntervalSeconds}s to ${bounds.maxIntervalSeconds}s`;
  return {
    scrape_interval: {
      ...duration,
      description: `How often Prometheus scrapes the app, a Prometheus duration such as 30s or 2m (${range}); default: the Prometheus job's interval`,
    },
    scrape_timeout: {
      ...duration,
      description: `How long one scrape may take, a Prometheus duration such as 10s, not above the scrape interval; default: the Prometheus job's timeout`,
    },
  };
}

/** The instance parameter schema, its descriptions naming the operator's bounds. */
export function instanceParametersSchema(bounds: ScrapeBounds = DEFAULT_SCRAPE_BOUNDS) {
  return {
    $schema: DRAFT_04,
    type: 'object',
    additionalProperties: false,
    properties: { labels: labelsSchema, ...scrapeSchemas(bounds) },
  };
}

/** The binding parameter schema, its descriptions naming the operator's bounds. */
export function bindingParametersSchema(bounds: ScrapeBounds = DEFAULT_SCRAPE_BOUNDS) {
  return { ...BINDING_PARAMETERS_SCHEMA, properties: { ...BINDING_PARAMETERS_SCHEMA.properties, ...scrapeSchemas(bounds) } };
}

export const INSTANCE_PARAMETERS_SCHEMA = instanceParametersSchema();

export const BINDING_PARAMETERS_SCHEMA = {
  $schema: DRAFT_04,
  type: 'object',
  additionalProperties: false,
  properties: {
    ...scrapeSchemas(DEFAULT_SCRAPE_BOUNDS),
    path: {
      type: 'string',
      description: 'Metrics path relative to the app route, e.g. /internal/metrics (default /metrics)',
      maxLength: MAX_PATH_PARAMETER_LENGTH,
      pattern: PATH_PATTERN,
    },
    scheme: { type: 'string', enum: ['http', 'https'], description: 'Scheme the scrape proxy uses to reach the app (default https)' },
    labels: labelsSchema,
  },
};

const ajv = new Ajv04({ allErrors: true, strict: false });
export const validateInstanceParameters = ajv.compile(INSTANCE_PARAMETERS_SCHEMA);
export const validateBindingParameters = ajv.compile(BINDING_PARAMETERS_SCHEMA);

function firstError(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'is invalid';
  const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'parameters';
  if (e.keyword === 'additionalProperties') {
    const name = JSON.stringify(String((e.params as { additionalProperty: string }).additionalProperty).slice(0, 60));
    return `${where}: ${name} is not allowed`;
  }
  return `${where} ${e.message ?? 'is invalid'}`;
}

/** Why stored instance parameters would not pass the published schema, or undefined. */
export function instanceParametersProblem(value: unknown): string | undefined {
  return validateInstanceParameters(value) ? undefined : firstError(validateInstanceParameters.errors);
}

/** Why stored binding parameters would not pass the published schema, or undefined. */
export function bindingParametersProblem(value: unknown): string | undefined {
  return validateBindingParameters(value) ? undefined : firstError(validateBindingParameters.errors);
}
