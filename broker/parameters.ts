import type { ErrorObject } from 'ajv';
import { extraLabelProblem } from '../shared/targets/labels';
import type { BindingParameters, InstanceParameters } from '../shared/targets/options';
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
