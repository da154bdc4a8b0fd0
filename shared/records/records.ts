import type { BindingParameters, InstanceParameters } from '../targets/options';
import { bindingParametersProblem, instanceParametersProblem } from '../targets/parameters-schema';
import type { TargetStatus } from '../targets/types';

/**
 * Records are about 1 KB (parameters are bounded by their schema: 20 labels of 256 characters);
 * anything near this size was not written by the broker and is never read whole.
 */
export const MAX_RECORD_BYTES = 256 * 1024;

/** `instances/<instance_id>.json` */
export interface InstanceRecord {
  instance_id: string;
  service_id: string;
  plan_id: string;
  organization_guid: string;
  space_guid: string;
  parameters: InstanceParameters;
  context?: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/**
 * `bindings/<binding_id>.json`: the source of truth for what is bound. Written once at
 * bind and deleted at unbind; everything that changes later lives in `active/`.
 */
export interface BindingRecord {
  binding_id: string;
  instance_id: string;
  service_id: string;
  plan_id: string;
  app_guid: string;
  parameters: BindingParameters;
  context?: Record<string, unknown>;
  created_at: string;
  /** What the bind saw, so a fetch can explain a binding that has no target file. */
  status_at_bind: TargetStatus;
}

export class CorruptRecordError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`store object ${key} is not a valid record: ${problem}`);
    this.name = 'CorruptRecordError';
  }
}

function parseObject(key: string, body: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new CorruptRecordError(key, 'not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CorruptRecordError(key, 'not a JSON object');
  return value as Record<string, unknown>;
}

function requireStrings(key: string, obj: Record<string, unknown>, fields: string[]): void {
  for (const f of fields) {
    if (typeof obj[f] !== 'string' || obj[f] === '')
      throw new CorruptRecordError(key, `field ${f} missing or not a string`);
  }
}

/**
 * Parameters are checked again against the schemas the broker publishes: a record edited in
 * the store must not render what a bind would have refused (a path with a line break, an
 * `__address__` label). Such a record is corrupt, like one that is not JSON.
 */
function requireParameters(
  key: string,
  obj: Record<string, unknown>,
  problemOf: (value: unknown) => string | undefined,
): void {
  if (obj.parameters === undefined) return;
  const problem = problemOf(obj.parameters);
  if (problem) throw new CorruptRecordError(key, `its parameters break the published schema (${problem})`);
}

export function parseInstanceRecord(key: string, body: string): InstanceRecord {
  const obj = parseObject(key, body);
  requireStrings(key, obj, ['instance_id', 'service_id', 'plan_id']);
  requireParameters(key, obj, instanceParametersProblem);
  return { parameters: {}, ...obj } as unknown as InstanceRecord;
}

export function parseBindingRecord(key: string, body: string): BindingRecord {
  const obj = parseObject(key, body);
  requireStrings(key, obj, ['binding_id', 'instance_id', 'app_guid']);
  requireParameters(key, obj, bindingParametersProblem);
  return { parameters: {}, ...obj } as unknown as BindingRecord;
}

export function serializeRecord(record: InstanceRecord | BindingRecord): string {
  return JSON.stringify(record, null, 1) + '\n';
}
