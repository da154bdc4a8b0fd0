import type { ErrorObject } from 'ajv';
import { extraLabelProblem } from '../shared/targets/labels';
import { DEFAULT_SCRAPE_BOUNDS, ScrapeBounds } from '../shared/targets/duration';
import { BindingParameters, InstanceParameters, scrapeParametersProblem } from '../shared/targets/options';
import {
  BINDING_PARAMETERS_SCHEMA,
  INSTANCE_PARAMETERS_SCHEMA,
  validateBindingParameters as validateBinding,
  validateInstanceParameters as validateInstance,
} from '../shared/targets/parameters-schema';
import { badRequest } from './osb/errors';

/** The schemas the catalog publishes; the broker enforces these very objects. */
export { BINDING_PARAMETERS_SCHEMA, INSTANCE_PARAMETERS_SCHEMA };

function describe(errors: ErrorObject[], supported: string[]): string {
  const unknown: string[] = [];
  const problems: string[] = [];
  for (const e of errors) {
    if (e.keyword === 'additionalProperties' && e.instancePath === '') {
      unknown.push((e.params as { additionalProperty: string }).additionalProperty);
    } else if (e.keyword === 'additionalProperties' && e.instancePath === '/labels') {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      problems.push(`label ${extraLabelProblem(name) ?? `"${name}" is not allowed`}`);
    } else if (e.keyword === 'pattern' && e.instancePath.startsWith('/labels/')) {
      const name = e.instancePath.slice('/labels/'.length);
      problems.push(`label "${name}" value must not contain control characters (line breaks, tabs, NUL...)`);
    } else if (
      e.keyword === 'pattern' &&
      (e.instancePath === '/scrape_interval' || e.instancePath === '/scrape_timeout')
    ) {
      problems.push(`${e.instancePath.slice(1)} must be a Prometheus duration such as 30s or 1m30s`);
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
    problems.unshift(
      `unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')}; supported: ${supported.join(', ')}`,
    );
  }
  return [...new Set(problems)].join('; ');
}

function check<T extends { scrape_interval?: string; scrape_timeout?: string }>(
  validate: typeof validateBinding,
  value: unknown,
  what: string,
  supported: string[],
  bounds: ScrapeBounds,
): T {
  if (value === undefined || value === null) return {} as T;
  if (!validate(value)) throw badRequest(`Invalid ${what} parameters: ${describe(validate.errors ?? [], supported)}.`);
  // The bounds are the operator's settings, not the published schema's: checked here, by name.
  const outOfBounds = scrapeParametersProblem(value as T, bounds);
  if (outOfBounds) throw badRequest(`Invalid ${what} parameters: ${outOfBounds}.`);
  return value as T;
}

export function parseInstanceParameters(
  value: unknown,
  bounds: ScrapeBounds = DEFAULT_SCRAPE_BOUNDS,
): InstanceParameters {
  return check<InstanceParameters>(
    validateInstance,
    value,
    'service instance',
    ['labels', 'scrape_interval', 'scrape_timeout'],
    bounds,
  );
}

export function parseBindingParameters(
  value: unknown,
  bounds: ScrapeBounds = DEFAULT_SCRAPE_BOUNDS,
): BindingParameters {
  return check<BindingParameters>(
    validateBinding,
    value,
    'binding',
    ['path', 'scheme', 'labels', 'scrape_interval', 'scrape_timeout'],
    bounds,
  );
}
