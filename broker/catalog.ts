import type { Config } from '../shared/config/load';
import { badRequest } from './osb/errors';
import { DEFAULT_SCRAPE_BOUNDS, ScrapeBounds } from '../shared/targets/duration';
import { bindingParametersSchema, instanceParametersSchema } from '../shared/targets/parameters-schema';

export type CatalogSettings = Config['catalog'];

/** The one service offering and plan this broker offers (GET /v2/catalog). */
export function buildCatalog(c: CatalogSettings, bounds: ScrapeBounds = DEFAULT_SCRAPE_BOUNDS) {
  const instanceSchema = instanceParametersSchema(bounds);
  return {
    services: [
      {
        id: c.serviceId,
        name: c.serviceName,
        description:
          'Prometheus monitoring of your app: every bound app instance is scraped with job, org, space and instance labels',
        bindable: true,
        instances_retrievable: true,
        bindings_retrievable: true,
        plan_updateable: false,
        allow_context_updates: false,
        tags: ['prometheus', 'monitoring', 'metrics'],
        metadata: {
          displayName: 'Prometheus monitoring',
          longDescription:
            'Bind an app to have Prometheus scrape /metrics on every instance. Optional bind parameters: path, scheme, labels, scrape_interval, scrape_timeout; the prometheus.io/* annotations of the app steer scraping too.',
          providerDisplayName: 'cf-app-discovery',
        },
        plans: [
          {
            id: c.planId,
            name: c.planName,
            description: 'Scrape every instance of each bound app',
            free: true,
            bindable: true,
            schemas: {
              service_instance: {
                create: { parameters: instanceSchema },
                update: { parameters: instanceSchema },
              },
              service_binding: { create: { parameters: bindingParametersSchema(bounds) } },
            },
          },
        ],
      },
    ],
  };
}

/** A request for a service or plan this broker does not offer is refused with the ones it does. */
export function checkOffering(c: CatalogSettings, serviceId: string, planId: string | undefined): void {
  if (serviceId !== c.serviceId) {
    throw badRequest(
      `Unknown service_id "${serviceId}": this broker offers only service "${c.serviceName}" (id ${c.serviceId}).`,
    );
  }
  if (planId !== undefined && planId !== c.planId) {
    throw badRequest(
      `Unknown plan_id "${planId}": service "${c.serviceName}" has only plan "${c.planName}" (id ${c.planId}).`,
    );
  }
}
