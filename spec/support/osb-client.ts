import type supertest from 'supertest';
import { BROKER_PASS, BROKER_USER } from './broker-harness';

/** Sends requests as Cloud Foundry does: basic auth, API version 2.15, a request identity. */
export function asPlatform(http: supertest.Agent) {
  const decorate = (t: supertest.Test) =>
    t
      .auth(BROKER_USER, BROKER_PASS)
      .set('X-Broker-API-Version', '2.15')
      .set('X-Broker-API-Request-Identity', 'e26cfe4d-3f2c-4f3c-8c8e-1d1c2f3a4b5c')
      .set('Accept', 'application/json');
  return {
    get: (path: string) => decorate(http.get(path)),
    put: (path: string, body: unknown) => decorate(http.put(path)).send(body as object),
    patch: (path: string, body: unknown) => decorate(http.patch(path)).send(body as object),
    delete: (path: string) => decorate(http.delete(path)),
  };
}

export const ORG_GUID = '7a1f0a8e-6c4b-4a5e-9f2d-1e3c5b7d9f01';
export const SPACE_GUID = '2b8e1c4d-5f6a-4b7c-8d9e-0f1a2b3c4d5e';

export function provisionBody(ids: { serviceId: string; planId: string }, parameters?: unknown) {
  return {
    service_id: ids.serviceId,
    plan_id: ids.planId,
    organization_guid: ORG_GUID,
    space_guid: SPACE_GUID,
    context: {
      platform: 'cloudfoundry',
      organization_guid: ORG_GUID,
      space_guid: SPACE_GUID,
      organization_name: 'my-org',
      space_name: 'prod',
      instance_name: 'my-monitoring',
    },
    ...(parameters === undefined ? {} : { parameters }),
  };
}

export function bindBody(
  ids: { serviceId: string; planId: string },
  appGuid: string | undefined,
  parameters?: unknown,
) {
  return {
    service_id: ids.serviceId,
    plan_id: ids.planId,
    ...(appGuid
      ? { app_guid: appGuid, bind_resource: { app_guid: appGuid, space_guid: SPACE_GUID } }
      : { bind_resource: {} }),
    context: {
      platform: 'cloudfoundry',
      organization_guid: ORG_GUID,
      space_guid: SPACE_GUID,
      organization_name: 'my-org',
      space_name: 'prod',
    },
    ...(parameters === undefined ? {} : { parameters }),
  };
}

export const deleteQuery = (ids: { serviceId: string; planId: string }) =>
  `accepts_incomplete=true&plan_id=${encodeURIComponent(ids.planId)}&service_id=${encodeURIComponent(ids.serviceId)}`;
