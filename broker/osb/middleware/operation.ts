import type { Request } from 'express';

/** A bounded name for the endpoint a request hit, for metrics and logs. */
const OPERATIONS: Record<string, string> = {
  'GET /catalog': 'catalog',
  'PUT /service_instances/:instance_id': 'provision',
  'PATCH /service_instances/:instance_id': 'update',
  'DELETE /service_instances/:instance_id': 'deprovision',
  'GET /service_instances/:instance_id': 'get_instance',
  'GET /service_instances/:instance_id/last_operation': 'instance_last_operation',
  'PUT /service_instances/:instance_id/service_bindings/:binding_id': 'bind',
  'DELETE /service_instances/:instance_id/service_bindings/:binding_id': 'unbind',
  'GET /service_instances/:instance_id/service_bindings/:binding_id': 'get_binding',
  'GET /service_instances/:instance_id/service_bindings/:binding_id/last_operation': 'binding_last_operation',
  'POST /update-targets': 'update_targets',
  'GET /targets': 'targets',
};

export function operationOf(req: Request): string {
  const route = (req.route as { path?: string } | undefined)?.path;
  return (route && OPERATIONS[`${req.method} ${route}`]) ?? 'unknown';
}
