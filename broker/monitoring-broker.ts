import { isDeepStrictEqual } from 'node:util';
import { KeyedMutex } from '../shared/keyed-mutex';
import { BindingRecord, InstanceRecord } from '../shared/records/records';
import type { RecordRepository } from '../shared/records/repository';
import type { DashboardUrlTemplate } from '../shared/config/dashboard-url';
import { bumpActiveMarker } from '../shared/store/marker';
import type { IgnoredAnnotation } from '../shared/targets/app-metadata';
import { DEFAULT_RENDER_SETTINGS, readAnnotations, RenderSettings, targetOptions } from '../shared/targets/options';
import { BindAppDeps, lookupAppToBind, renderBindTargets } from './bind-app';
import { writeBinding } from './bind-write';
import { credentialsOf, liveCredentials } from './binding-credentials';
import { buildCatalog, CatalogSettings, checkOffering } from './catalog';
import { dashboardUrlOf } from './dashboard-url';
import { removeBindingsOf } from './deprovision-cascade';
import { BrokerFailure, conflict, gone, notFound } from './osb/errors';
import { parseBindingParameters, parseInstanceParameters } from './parameters';
import type {
  BindDetails,
  BindingView,
  BindResult,
  BrokerService,
  DeleteDetails,
  InstanceView,
  ProvisionDetails,
  ProvisionResult,
  RequestContext,
  UpdateDetails,
} from './osb/service';
import { isSameBinding, isSameInstance } from './repeated-requests';
import { withStoreFailures } from './store-failures';

export interface MonitoringBrokerDeps extends BindAppDeps {
  catalog: CatalogSettings;
  records: RecordRepository;
  /** DASHBOARD_URL: each instance's dashboard_url is filled from it; none when unset. */
  dashboardUrl?: DashboardUrlTemplate;
  now?: () => Date;
  /** APP_LABELS and the scrape bounds (defaults when absent). */
  rendering?: RenderSettings;
  /** A bind saw prometheus.io annotations whose values it ignored (for the metric). */
  onIgnoredAnnotations?(ignored: IgnoredAnnotation[]): void;
}

/** The broker's domain: OSB operations over the store, with the CC consulted only on bind. */
export class MonitoringBroker implements BrokerService {
  private readonly locks = new KeyedMutex();
  private readonly now: () => Date;
  private readonly rendering: RenderSettings;

  constructor(private readonly deps: MonitoringBrokerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.rendering = deps.rendering ?? DEFAULT_RENDER_SETTINGS;
  }

  catalog() {
    return buildCatalog(this.deps.catalog, this.rendering.scrape);
  }

  async provision(instanceId: string, d: ProvisionDetails, ctx: RequestContext): Promise<ProvisionResult> {
    checkOffering(this.deps.catalog, d.serviceId, d.planId);
    const parameters = parseInstanceParameters(d.parameters, this.rendering.scrape);
    return this.locks.run(`instance:${instanceId}`, () =>
      withStoreFailures(async () => {
        const existing = await this.deps.records.getInstance(instanceId);
        if (existing) {
          if (!isSameInstance(existing, d, parameters))
            throw conflict(
              `Service instance ${instanceId} already exists with different attributes (plan, space or parameters); choose another instance id or update it with cf update-service.`,
            );
          return { created: false, dashboardUrl: this.dashboardUrl(existing, ctx) };
        }
        const at = this.now().toISOString();
        const record: InstanceRecord = {
          instance_id: instanceId,
          service_id: d.serviceId,
          plan_id: d.planId,
          organization_guid: d.organizationGuid,
          space_guid: d.spaceGuid,
          parameters,
          context: d.context,
          created_at: at,
          updated_at: at,
        };
        await this.deps.records.putInstance(record);
        ctx.log.info({ instanceId, userId: ctx.userId }, 'service instance provisioned');
        return { created: true, dashboardUrl: this.dashboardUrl(record, ctx) };
      }),
    );
  }

  async update(instanceId: string, d: UpdateDetails, ctx: RequestContext): Promise<void> {
    checkOffering(this.deps.catalog, d.serviceId, d.planId);
    const parameters =
      d.parameters === undefined ? undefined : parseInstanceParameters(d.parameters, this.rendering.scrape);
    await this.locks.run(`instance:${instanceId}`, () =>
      withStoreFailures(async () => {
        const existing = await this.deps.records.getInstance(instanceId);
        if (!existing) throw notFound(`Service instance ${instanceId} does not exist.`);
        if (parameters === undefined || isDeepStrictEqual(existing.parameters, parameters)) return;
        const updated: InstanceRecord = { ...existing, parameters, updated_at: this.now().toISOString() };
        if (d.context) updated.context = d.context;
        await this.deps.records.putInstance(updated);
        ctx.log.info({ instanceId, userId: ctx.userId }, 'service instance parameters updated');
      }),
    );
  }

  async deprovision(instanceId: string, d: DeleteDetails, ctx: RequestContext): Promise<void> {
    checkOffering(this.deps.catalog, d.serviceId, d.planId);
    await this.locks.run(`instance:${instanceId}`, () =>
      withStoreFailures(async () => {
        const existing = await this.deps.records.getInstance(instanceId);
        if (!existing) throw gone();
        // Bindings first, the instance record last: if a store step fails the answer is 503, the
        // instance still exists, and CF's retry finds and removes whatever bindings are left.
        const removed = await removeBindingsOf(this.deps.records, this.locks, instanceId, ctx);
        await this.deps.records.deleteInstance(instanceId);
        ctx.log.info({ instanceId, userId: ctx.userId, bindingsRemoved: removed }, 'service instance deprovisioned');
      }),
    );
  }

  async getInstance(instanceId: string): Promise<InstanceView> {
    return withStoreFailures(async () => {
      const existing = await this.deps.records.getInstance(instanceId);
      if (!existing) throw notFound(`Service instance ${instanceId} does not exist.`);
      const dashboardUrl = this.dashboardUrl(existing);
      return {
        service_id: existing.service_id,
        plan_id: existing.plan_id,
        ...(dashboardUrl && { dashboard_url: dashboardUrl }),
        parameters: { ...existing.parameters },
      };
    });
  }

  /** DASHBOARD_URL filled for an instance; a provision logs why an instance gets no link. */
  private dashboardUrl(instance: InstanceRecord, ctx?: RequestContext): string | undefined {
    const { url, missing } = dashboardUrlOf(this.deps.dashboardUrl, instance);
    if (missing.length > 0)
      ctx?.log.warn(
        { instanceId: instance.instance_id, missing: missing.map((p) => `{${p}}`) },
        'no dashboard_url for this service instance: the platform sent no value for placeholders of DASHBOARD_URL (organization_name, space_name in the context)',
      );
    return url;
  }

  async bind(instanceId: string, bindingId: string, d: BindDetails, ctx: RequestContext): Promise<BindResult> {
    checkOffering(this.deps.catalog, d.serviceId, d.planId);
    if (!d.appGuid) {
      throw new BrokerFailure(
        'RequiresApp',
        'This service monitors apps: bind it to an app with cf bind-service APP SERVICE_INSTANCE. Service keys are not supported.',
        'RequiresApp',
      );
    }
    const appGuid = d.appGuid;
    const parameters = parseBindingParameters(d.parameters, this.rendering.scrape);
    return this.locks.run(`binding:${bindingId}`, () =>
      withStoreFailures(async () => {
        const instance = await this.deps.records.getInstance(instanceId);
        if (!instance)
          throw notFound(
            `Service instance ${instanceId} does not exist; create it with cf create-service before binding.`,
          );
        const existing = await this.deps.records.getBinding(bindingId);
        if (existing) {
          if (!isSameBinding(existing, instanceId, appGuid, d, parameters))
            throw conflict(
              `Binding ${bindingId} already exists with a different app, instance or parameters; unbind it first.`,
            );
          return { created: false, credentials: await liveCredentials(this.deps.records, existing) };
        }
        const app = await lookupAppToBind(this.deps, appGuid, d.context);
        const options = targetOptions(instance.parameters, parameters, app, this.rendering);
        const rendered = renderBindTargets(app, options);
        const ignored = options.ignoredAnnotations;
        if (ignored) {
          this.deps.onIgnoredAnnotations?.(ignored);
          ctx.log.warn({ bindingId, appGuid, ignored }, 'app annotations with invalid values were ignored');
        }
        const record: BindingRecord = {
          binding_id: bindingId,
          instance_id: instanceId,
          service_id: d.serviceId,
          plan_id: d.planId,
          app_guid: appGuid,
          parameters,
          context: d.context,
          created_at: this.now().toISOString(),
          status_at_bind: rendered.status,
        };
        await writeBinding(this.deps.records, record, rendered.groups, ctx.log);
        const log = { bindingId, instanceId, appGuid, app: app.name, userId: ctx.userId, status: rendered.status };
        if (rendered.status.state === 'active') ctx.log.info(log, 'app bound; targets written');
        else ctx.log.warn(log, `app bound without targets: ${rendered.status.detail}`);
        return { created: true, credentials: credentialsOf(rendered.status, ignored) };
      }),
    );
  }

  async unbind(instanceId: string, bindingId: string, d: DeleteDetails, ctx: RequestContext): Promise<void> {
    checkOffering(this.deps.catalog, d.serviceId, d.planId);
    await this.locks.run(`binding:${bindingId}`, () =>
      withStoreFailures(async () => {
        const existing = await this.deps.records.getBinding(bindingId);
        if (!existing) {
          // CF's orphan mitigation after a bind that failed midway (broker killed, store down):
          // a target file may be left without its record. Remove it now rather than after the
          // updater's leftover grace; the answer is still 410 because no binding existed.
          await this.removeLeftoverTargets(bindingId, ctx);
          throw gone();
        }
        if (existing.instance_id !== instanceId) throw gone();
        // Targets first: if the record delete fails, CF still has the binding and retries,
        // and the record lets the updater put the targets back meanwhile.
        await this.deps.records.deleteTargets(bindingId);
        await this.deps.records.deleteBinding(bindingId);
        // Again: a reconcile that read the record before it went may have written the file back
        // in between (it re-checks the record after writing, which covers later writes).
        await this.deps.records.deleteTargets(bindingId);
        await bumpActiveMarker(this.deps.records.store, 'broker', ctx.log);
        ctx.log.info(
          { bindingId, instanceId, appGuid: existing.app_guid, userId: ctx.userId },
          'app unbound; targets removed',
        );
      }),
    );
  }

  private async removeLeftoverTargets(bindingId: string, ctx: RequestContext): Promise<void> {
    if (!(await this.deps.records.getTargets(bindingId))) return;
    await this.deps.records.deleteTargets(bindingId);
    await bumpActiveMarker(this.deps.records.store, 'broker', ctx.log);
    ctx.log.info(
      { bindingId, userId: ctx.userId },
      'unbind of an unknown binding removed a target file left by a failed bind',
    );
  }

  async getBinding(instanceId: string, bindingId: string): Promise<BindingView> {
    return withStoreFailures(async () => {
      const existing = await this.deps.records.getBinding(bindingId);
      if (!existing || existing.instance_id !== instanceId)
        throw notFound(`Binding ${bindingId} of service instance ${instanceId} does not exist.`);
      // The app's annotations as they are now: a fetch says whether it opted out since.
      const metadata = await this.deps.apps?.metadata?.(existing.app_guid);
      const annotations = metadata ? readAnnotations(metadata.annotations, this.rendering.scrape) : undefined;
      return {
        credentials: await liveCredentials(this.deps.records, existing, annotations),
        parameters: { ...existing.parameters },
      };
    });
  }
}
