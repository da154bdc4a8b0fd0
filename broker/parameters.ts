import Ajv04 from 'ajv-draft-04';
import type { ErrorObject } from 'ajv';
import { extraLabelProblem, LABEL_NAME_PATTERN, MAX_EXTRA_LABELS, MAX_LABEL_NAME_LENGTH, MAX_LABEL_VALUE_LENGTH, RESERVED_LABELS } from '../shared/targets/labels';
import type { BindingParameters, InstanceParameters } from '../shared/targets/options';
import { badRequest } from './errors';

/**
 * The parameter schemas are published in the catalog (CF validates them as draft-04 and
 * shows them to app teams) and enforced here with the very same objects.
 */
const DRAFT_04 = 'http://json-schema.org/draft-04/schema#';

const reserved = RESERVED_LABELS.join('|');
const labelsSchema = {
  type: 'object',
  description: `Extra labels on every target (at most ${MAX_EXTRA_LABELS}); names as Prometheus label names of at most ${MAX_LABEL_NAME_LENGTH} characters, not starting with "__", not ${RESERVED_LABELS.join('/')}`,
  maxProperties: MAX_EXTRA_LABELS,
  patternProperties: {
    // The length lookahead keeps the schema and extraLabelProblem() in step: without it a
    // 101-character name passed the schema and was stored.
    [`^(?!__)(?!(${reserved})$)(?=.{1,${MAX_LABEL_NAME_LENGTH}}$)${LABEL_NAME_PATTERN.slice(1, -1)}$`]: { type: 'string', maxLength: MAX_LABEL_VALUE_LENGTH },
  },
  additionalProperties: false,
};

export const INSTANCE_PARAMETERS_SCHEMA = {
  $schema: DRAFT_04,
  type: 'object',
  additionalProperties: false,
  properties: { labels: labelsSchema },
};

export const BINDING_PARAMETERS_SCHEMA = {
  $schema: DRAFT_04,
  type: 'object',
  additionalProperties: false,
  properties: {
    path: {
      type: 'string',
      description: 'Metrics path relative to the app route, e.g. /internal/metrics (default /metrics)',
      maxLength: 256,
      // absolute; no "..", "//", query, fragment or whitespace
      pattern: "^(?!.*/\\.\\.?(/|$))(?!.*//)/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$",
    },
    scheme: { type: 'string', enum: ['http', 'https'], description: 'Scheme the scrape proxy uses to reach the app (default https)' },
    labels: labelsSchema,
  },
};

const ajv = new Ajv04({ allErrors: true, strict: false });
const validateInstance = ajv.compile(INSTANCE_PARAMETERS_SCHEMA);
const validateBinding = ajv.compile(BINDING_PARAMETERS_SCHEMA);

function describe(errors: ErrorObject[], supported: string[]): string {
  const unknown: string[] = [];
  const problems: string[] = [];
  for (const e of errors) {
    if (e.keyword === 'additionalProperties' && e.instancePath === '') {
      unknown.push((e.params as { additionalProperty: string }).additionalProperty);
    } else if (e.keyword === 'additionalProperties' && e.instancePath === '/labels') {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      problems.push(`label ${extraLabelProblem(name) ?? `"${name}" is not allowed`}`);
    } else if (e.keyword === 'pattern' && e.instancePath === '/path') {
      problems.push('path must be an absolute URL path such as /internal/metrics, without "..", "//", "?" or "#"');
    } else if (e.keyword === 'type' && e.instancePath === '') {
      problems.push('parameters must be a JSON object');
    } else {
      const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : 'parameters';
      problems.push(`${where} ${e.message ?? 'is invalid'}`);
    }
  }
  if (unknown.length > 0) {
    problems.unshift(`unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}; supported: ${supported.join(', ')}`);
  }
  return [...new Set(problems)].join('; ');
}

function check<T>(validate: typeof validateBinding, value: unknown, what: string, supported: string[]): T {
  if (value === undefined || value === null) return {} as T;
  if (!validate(value)) throw badRequest(`Invalid ${what} parameters: ${describe(validate.errors ?? [], supported)}.`);
  return value as T;
}

export function parseInstanceParameters(value: unknown): InstanceParameters {
  return check<InstanceParameters>(validateInstance, value, 'service instance', ['labels']);
}

export function parseBindingParameters(value: unknown): BindingParameters {
  return check<BindingParameters>(validateBinding, value, 'binding', ['path', 'scheme', 'labels']);
}
