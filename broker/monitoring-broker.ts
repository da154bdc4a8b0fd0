import { isDeepStrictEqual } from 'node:util';
import type { CfCredentials } from '../shared/config/load';
import { KeyedMutex } from '../shared/keyed-mutex';
import { inParallel } from '../shared/parallel';
import { bumpActiveMarker } from '../shared/store/marker';
import { BindingRecord, CorruptRecordError, InstanceRecord } from '../shared/records/records';
import type { RecordRepository } from '../shared/records/repository';
import { targetOptions } from '../shared/targets/options';
import { renderTargets } from '../shared/targets/render';
import type { TargetStatus } from '../shared/targets/types';
import { ImplausibleAppError } from '../shared/targets/snapshot';
import { AppDirectory, AppLookupTimeoutError, AppLookupUnavailableError, AppNotVisibleError } from './app-lookup';
import { buildCatalog, CatalogSettings } from './catalog';
import { badRequest, BrokerFailure, conflict, gone, notFound, unavailable } from './osb/errors';
import { parseBindingParameters, parseInstanceParameters } from './parameters';
import type {
  BindDetails,
  BindingCredentials,
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
import { withStoreFailures } from './store-failures';

export interface MonitoringBrokerDeps {
  catalog: CatalogSettings;
  records: RecordRepository;
  /** Undefined when no Cloud Controller is configured: binds then fail with a clear 503. */
  apps?: AppDirectory;
  /** Whose role an app team must grant so the broker can see their app. */
  cfPrincipal?: Pick<CfCredentials, 'kind' | 'principal'>;
  now?: () => Date;
}

/** Binding records read at once while a deprovision looks for the instance's bindings. */
const BINDING_READ_CONCURRENCY = 16;

function credentialsOf(status: TargetStatus): BindingCredentials {
  if (status.state === 'active') {
    return {
      status: 'active',
      targets: status.targets,
      detail: `scraping ${status.targets} instance(s) at ${status.route} on ${status.metricsPath}`,
    };
  }
  return { status: 'inactive', targets: 0, detail: status.detail };
}

/** A retry does not fix this, so not a 5xx (which would also make CF orphan-mitigate): 400 with the reason. */
function notMonitorable(err: ImplausibleAppError): BrokerFailure {
  return badRequest(
    `The Cloud Controller says app ${err.appName} ${err.reason}; it cannot be monitored by this service. Nothing was bound.`,
    'AppNotMonitorable',
  );
}

/** The broker's domain: OSB operations over the store, with the CC consulted only on bind. */
export class MonitoringBroker implements BrokerService {
  private readonly locks = new KeyedMutex();
  private readonly now: () => Date;

  constructor(private readonly deps: MonitoringBrokerDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  catalog() {
    return buildCatalog(this.deps.catalog);
  }

  private checkOffering(serviceId: string, planId: string | undefined): void {
    const c = this.deps.catalog;
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

  async provision(instanceId: string, d: ProvisionDetails, ctx: RequestContext): Promise<ProvisionResult> {
    this.checkOffering(d.serviceId, d.planId);
    const parameters = parseInstanceParameters(d.parameters);
    return this.locks.run(`instance:${instanceId}`, () =>
      withStoreFailures(async () => {
        const existing = await this.deps.records.getInstance(instanceId);
        if (existing) {
          const same =
            existing.service_id === d.serviceId &&
            existing.plan_id === d.planId &&
            existing.organization_guid === d.organizationGuid &&
            existing.space_guid === d.spaceGuid &&
            isDeepStrictEqual(existing.parameters, parameters);
          if (!same)
            throw conflict(
              `Service instance ${instanceId} already exists with different attributes (plan, space or parameters); choose another instance id or update it with cf update-service.`,
            );
          return { created: false };
        }
        const at = this.now().toISOString();
        await this.deps.records.putInstance({
          instance_id: instanceId,
          service_id: d.serviceId,
          plan_id: d.planId,
          organization_guid: d.organizationGuid,
          space_guid: d.spaceGuid,
          parameters,
          context: d.context,
          created_at: at,
          updated_at: at,
        });
        ctx.log.info({ instanceId, userId: ctx.userId }, 'service instance provisioned');
        return { created: true };
      }),
    );
  }

  async update(instanceId: string, d: UpdateDetails, ctx: RequestContext): Promise<void> {
    this.checkOffering(d.serviceId, d.planId);
    const parameters = d.parameters === undefined ? undefined : parseInstanceParameters(d.parameters);
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
    this.checkOffering(d.serviceId, d.planId);
    await this.locks.run(`instance:${instanceId}`, () =>
      withStoreFailures(async () => {
        const existing = await this.deps.records.getInstance(instanceId);
        if (!existing) throw gone();
        // Bindings first, the instance record last: if a store step fails the answer is 503, the
        // instance still exists, and CF's retry finds and removes whatever bindings are left.
        const removed = await this.removeBindingsOf(instanceId, ctx);
        await this.deps.records.deleteInstance(instanceId);
        ctx.log.info({ instanceId, userId: ctx.userId, bindingsRemoved: removed }, 'service instance deprovisioned');
      }),
    );
  }

  /**
   * A platform may deprovision an instance whose bindings it never unbound (CF refuses to, other
   * platforms and hand-made calls do not). Their records and target files go with it; each is
   * removed as an unbind would, under its binding's lock, and logged. Binding keys do not name
   * their instance, so every binding record is read (bounded concurrency).
   */
  private async removeBindingsOf(instanceId: string, ctx: RequestContext): Promise<number> {
    const bindingIds = await this.deps.records.listBindingIds();
    const owned = (
      await inParallel(
        bindingIds.map((bindingId) => async () => {
          try {
            const record = await this.deps.records.getBinding(bindingId);
            return record?.instance_id === instanceId ? record : undefined;
          } catch (err) {
            // A damaged record of some other binding must not block every deprovision.
            if (!(err instanceof CorruptRecordError)) throw err;
            ctx.log.warn(
              { bindingId, instanceId, err: err.message },
              'skipped a damaged binding record while looking for the bindings of a deprovisioned instance',
            );
            return undefined;
          }
        }),
        BINDING_READ_CONCURRENCY,
      )
    ).filter((r): r is BindingRecord => r !== undefined);
    for (const record of owned) {
      await this.locks.run(`binding:${record.binding_id}`, async () => {
        await this.deps.records.deleteTargets(record.binding_id);
        await this.deps.records.deleteBinding(record.binding_id);
        await this.deps.records.deleteTargets(record.binding_id);
      });
      ctx.log.info(
        { bindingId: record.binding_id, instanceId, appGuid: record.app_guid, userId: ctx.userId },
        'binding removed with its service instance; targets removed',
      );
    }
    if (owned.length > 0) await bumpActiveMarker(this.deps.records.store, 'broker', ctx.log);
    return owned.length;
  }

  async getInstance(instanceId: string): Promise<InstanceView> {
    return withStoreFailures(async () => {
      const existing = await this.deps.records.getInstance(instanceId);
      if (!existing) throw notFound(`Service instance ${instanceId} does not exist.`);
      return { service_id: existing.service_id, plan_id: existing.plan_id, parameters: { ...existing.parameters } };
    });
  }

  async bind(instanceId: string, bindingId: string, d: BindDetails, ctx: RequestContext): Promise<BindResult> {
    this.checkOffering(d.serviceId, d.planId);
    if (!d.appGuid) {
      throw new BrokerFailure(
        'RequiresApp',
        'This service monitors apps: bind it to an app with cf bind-service APP SERVICE_INSTANCE. Service keys are not supported.',
        'RequiresApp',
      );
    }
    const appGuid = d.appGuid;
    const parameters = parseBindingParameters(d.parameters);
    return this.locks.run(`binding:${bindingId}`, () =>
      withStoreFailures(async () => {
        const instance = await this.deps.records.getInstance(instanceId);
        if (!instance)
          throw notFound(
            `Service instance ${instanceId} does not exist; create it with cf create-service before binding.`,
          );
        const existing = await this.deps.records.getBinding(bindingId);
        if (existing) {
          const same =
            existing.instance_id === instanceId &&
            existing.app_guid === appGuid &&
            existing.service_id === d.serviceId &&
            existing.plan_id === d.planId &&
            isDeepStrictEqual(existing.parameters, parameters);
          if (!same)
            throw conflict(
              `Binding ${bindingId} already exists with a different app, instance or parameters; unbind it first.`,
            );
          return { created: false, credentials: await this.liveCredentials(existing) };
        }
        const app = await this.lookupApp(appGuid, d.context);
        let rendered;
        try {
          rendered = renderTargets(app, targetOptions(instance.parameters, parameters));
        } catch (err) {
          throw err instanceof ImplausibleAppError ? notMonitorable(err) : err;
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
        // Target file first: if the record write then fails we remove it again, so a failed
        // bind leaves nothing behind (and a later leftover sweep would remove it anyway).
        if (rendered.groups.length > 0) await this.deps.records.putTargets(bindingId, rendered.groups);
        try {
          await Promise.all([
            this.deps.records.putBinding(record),
            rendered.groups.length > 0 ? bumpActiveMarker(this.deps.records.store, 'broker', ctx.log) : undefined,
          ]);
        } catch (err) {
          await this.deps.records.deleteTargets(bindingId).catch(() => undefined);
          throw err;
        }
        const log = { bindingId, instanceId, appGuid, app: app.name, userId: ctx.userId, status: rendered.status };
        if (rendered.status.state === 'active') ctx.log.info(log, 'app bound; targets written');
        else ctx.log.warn(log, `app bound without targets: ${rendered.status.detail}`);
        return { created: true, credentials: credentialsOf(rendered.status) };
      }),
    );
  }

  private async lookupApp(appGuid: string, context: Record<string, unknown> | undefined) {
    if (!this.deps.apps) {
      throw unavailable(
        'The broker has no Cloud Controller configured (CF_API_URL), so it cannot read the app; the platform operator must set CF_API_URL and CF credentials.',
      );
    }
    try {
      const app = await this.deps.apps.lookup(appGuid);
      // A CC that did not fill `included` still lets CF tell us the names in the bind context.
      if (!app.orgName && typeof context?.organization_name === 'string') app.orgName = context.organization_name;
      if (!app.spaceName && typeof context?.space_name === 'string') app.spaceName = context.space_name;
      return app;
    } catch (err) {
      if (err instanceof AppNotVisibleError)
        throw badRequest(this.notVisibleDescription(appGuid, context), 'AppNotVisible');
      if (err instanceof AppLookupTimeoutError) {
        throw unavailable(
          `The Cloud Controller is too slow: it did not answer the broker's questions about app ${appGuid} within ${err.deadlineMs / 1000} s. Nothing was bound; try again in a few minutes.`,
        );
      }
      if (err instanceof ImplausibleAppError) throw notMonitorable(err);
      if (err instanceof AppLookupUnavailableError) {
        throw unavailable(
          err.authProblem
            ? 'The broker could not log in to the Cloud Controller; the platform operator must check its CF credentials. Nothing was bound; try again later.'
            : `The Cloud Controller did not answer the broker (${err.message}). Nothing was bound; try again in a minute.`,
        );
      }
      throw err;
    }
  }

  private notVisibleDescription(appGuid: string, context: Record<string, unknown> | undefined): string {
    const who = this.deps.cfPrincipal;
    const org = typeof context?.organization_name === 'string' ? context.organization_name : 'ORG';
    const space = typeof context?.space_name === 'string' ? context.space_name : 'SPACE';
    if (!who)
      return `The monitoring broker cannot see app ${appGuid}. Ask the platform operator to give the broker's Cloud Foundry user the SpaceAuditor role in space ${space} of org ${org}, then bind again.`;
    const flag = who.kind === 'client' ? ' --client' : '';
    return `The monitoring broker's Cloud Foundry ${who.kind === 'client' ? 'client' : 'user'} "${who.principal}" cannot see app ${appGuid}. A space manager can grant it read access with: cf set-space-role ${who.principal} ${org} ${space} SpaceAuditor${flag} ; then run cf bind-service again.`;
  }

  async unbind(instanceId: string, bindingId: string, d: DeleteDetails, ctx: RequestContext): Promise<void> {
    this.checkOffering(d.serviceId, d.planId);
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
      return { credentials: await this.liveCredentials(existing), parameters: { ...existing.parameters } };
    });
  }

  /** Status as it is now: the target file if there is one, else why the bind wrote none. */
  private async liveCredentials(record: BindingRecord): Promise<BindingCredentials> {
    const groups = await this.deps.records.getTargets(record.binding_id);
    if (groups && groups.length > 0) {
      const first = groups[0];
      return {
        status: 'active',
        targets: groups.length,
        detail: `scraping ${groups.length} instance(s) at ${first.targets[0]} on ${first.labels.__metrics_path__ ?? '/metrics'}`,
      };
    }
    if (record.status_at_bind?.state === 'inactive') return credentialsOf(record.status_at_bind);
    return {
      status: 'inactive',
      targets: 0,
      detail: 'no targets at the moment; the app is stopped, scaled to zero or has no public route',
    };
  }
}
