import type { Request } from 'express';
import { badRequest } from '../errors';
import type { RequestContext } from '../service';

/** The JSON object body every OSB PUT/PATCH carries; anything else is malformed. */
export function objectBody(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!req.is('application/json'))
    throw badRequest('The request body must be a JSON object sent with Content-Type: application/json.');
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badRequest('The request body must be a JSON object.');
  return body as Record<string, unknown>;
}

export function requiredString(obj: Record<string, unknown>, field: string): string {
  const value = obj[field];
  if (typeof value !== 'string' || value.length === 0)
    throw badRequest(`The request body must have "${field}" as a non-empty string.`);
  if (value.length > 256) throw badRequest(`"${field}" is longer than 256 characters.`);
  return value;
}

export function optionalString(obj: Record<string, unknown>, field: string): string | undefined {
  if (obj[field] === undefined || obj[field] === null) return undefined;
  return requiredString(obj, field);
}

export function optionalObject(obj: Record<string, unknown>, field: string): Record<string, unknown> | undefined {
  const value = obj[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`"${field}" must be a JSON object.`);
  return value as Record<string, unknown>;
}

/**
 * The app a bind names, unchecked: `bind_resource.app_guid`, or the deprecated top-level
 * `app_guid` older platforms send. The bind validates it; the request log only shows it when valid.
 */
export function appGuidCandidate(body: unknown): unknown {
  if (typeof body !== 'object' || body === null) return undefined;
  const { bind_resource: resource, app_guid: topLevel } = body as Record<string, unknown>;
  const fromResource =
    typeof resource === 'object' && resource !== null ? (resource as Record<string, unknown>).app_guid : undefined;
  return fromResource ?? topLevel;
}

/** `parameters` must be an object when present; its content is checked by the schemas. */
export function parametersField(obj: Record<string, unknown>): unknown {
  const value = obj.parameters;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw badRequest('"parameters" must be a JSON object (cf ... -c \'{"key": "value"}\').');
  return value;
}

export function requiredQuery(req: Request, name: string): string {
  const value = req.query[name];
  if (typeof value !== 'string' || value.length === 0) throw badRequest(`The query parameter "${name}" is required.`);
  return value;
}

export function contextOf(req: Request): RequestContext {
  if (!req.brokerContext) throw new Error('request-identity middleware did not run');
  return req.brokerContext;
}
