import type { Logger } from '../../shared/logger';
import type { TargetStatus } from '../../shared/targets/types';

/** Who is asking, for logs and audit; never used for authorisation (basic auth does that). */
export interface RequestContext {
  log: Logger;
  requestIdentity?: string;
  /** user_id from X-Broker-API-Originating-Identity, when the platform sent one. */
  userId?: string;
}

export interface ProvisionDetails {
  serviceId: string;
  planId: string;
  organizationGuid: string;
  spaceGuid: string;
  parameters?: unknown;
  context?: Record<string, unknown>;
}

export interface UpdateDetails {
  serviceId: string;
  planId?: string;
  /** undefined: leave parameters as they are (OSB). */
  parameters?: unknown;
  context?: Record<string, unknown>;
}

export interface BindDetails {
  serviceId: string;
  planId: string;
  appGuid?: string;
  parameters?: unknown;
  context?: Record<string, unknown>;
}

export interface DeleteDetails {
  serviceId: string;
  planId: string;
}

/** What an app team can read about a binding (bind answer and fetch). */
export interface BindingCredentials {
  status: TargetStatus['state'];
  targets: number;
  detail: string;
  /** The app's prometheus.io annotations whose values were ignored, and why. */
  ignored_annotations?: Array<{ annotation: string; problem: string }>;
}

export interface ProvisionResult {
  created: boolean;
  /** The instance's dashboard (OSB dashboard_url), when DASHBOARD_URL is set and could be filled. */
  dashboardUrl?: string;
}

export interface BindResult {
  created: boolean;
  credentials: BindingCredentials;
}

export interface InstanceView {
  service_id: string;
  plan_id: string;
  dashboard_url?: string;
  parameters: Record<string, unknown>;
}

export interface BindingView {
  credentials: BindingCredentials;
  parameters: Record<string, unknown>;
}

/**
 * One method per OSB operation. Implementations throw BrokerFailure for every answer that
 * is not a success; the HTTP layer turns results and failures into responses.
 */
export interface BrokerService {
  catalog(): unknown;
  provision(instanceId: string, details: ProvisionDetails, ctx: RequestContext): Promise<ProvisionResult>;
  update(instanceId: string, details: UpdateDetails, ctx: RequestContext): Promise<void>;
  deprovision(instanceId: string, details: DeleteDetails, ctx: RequestContext): Promise<void>;
  getInstance(instanceId: string, ctx: RequestContext): Promise<InstanceView>;
  bind(instanceId: string, bindingId: string, details: BindDetails, ctx: RequestContext): Promise<BindResult>;
  unbind(instanceId: string, bindingId: string, details: DeleteDetails, ctx: RequestContext): Promise<void>;
  getBinding(instanceId: string, bindingId: string, ctx: RequestContext): Promise<BindingView>;
}
