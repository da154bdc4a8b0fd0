import { isDeepStrictEqual } from 'node:util';
import type { BindingRecord, InstanceRecord } from '../shared/records/records';
import type { BindingParameters, InstanceParameters } from '../shared/targets/options';
import type { BindDetails, ProvisionDetails } from './osb/service';

// OSB: a PUT repeating the one that created a record is answered 200 with what exists; a PUT for
// the same id that asks for something else is a 409. These say which of the two a request is.

/** A provision asking for exactly the instance that exists. */
export function isSameInstance(existing: InstanceRecord, d: ProvisionDetails, parameters: InstanceParameters): boolean {
  return (
    existing.service_id === d.serviceId &&
    existing.plan_id === d.planId &&
    existing.organization_guid === d.organizationGuid &&
    existing.space_guid === d.spaceGuid &&
    isDeepStrictEqual(existing.parameters, parameters)
  );
}

/** A bind asking for exactly the binding that exists. */
export function isSameBinding(
  existing: BindingRecord,
  instanceId: string,
  appGuid: string,
  d: BindDetails,
  parameters: BindingParameters,
): boolean {
  return (
    existing.instance_id === instanceId &&
    existing.app_guid === appGuid &&
    existing.service_id === d.serviceId &&
    existing.plan_id === d.planId &&
    isDeepStrictEqual(existing.parameters, parameters)
  );
}
