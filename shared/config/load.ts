import Ajv from 'ajv';
import { validate as validCron } from 'node-cron';
import type { StoreConfig } from '../store';
import { DashboardUrlTemplate, parseDashboardUrlTemplate } from './dashboard-url';
import type { RenderSettings } from '../targets/options';
import { passwordProblem } from './password-strength';
import { renderSettings } from './rendering';
import { SETTINGS, SettingName, SettingSpec } from './settings';

export interface CfCredentials {
  kind: 'password' | 'client';
  /** The user name or client id: safe to show in messages that tell people what to grant. */
  principal: string;
  username?: string;
  password?: string;
  clientId?: string;
  clientSecret?: string;
}

export interface Config {
  port: number;
  /** Listen address of the broker; all interfaces when undefined. */
  host?: string;
  logLevel: string;
  brokerUsername?: string;
  brokerPassword?: string;
  /** Also accepted while an operator rotates the broker's credentials (cf update-service-broker). */
  brokerPrevious?: { username: string; password: string };
  cf?: { apiUrl: string; uaaUrl?: string; credentials: CfCredentials };
  store: StoreConfig & { s3ForcePathStyle: boolean };
  catalog: { serviceId: string; serviceName: string; planId: string; planName: string };
  updateSchedule: string;
  /** A reconcile gives up (changing nothing) after this long. */
  reconcileTimeoutMs: number;
  /** How often the audit-event follower polls; 0: no follower. */
  eventPollMs: number;
  /** APP_LABELS and the scrape bounds: what renderers and target file readers are handed. */
  rendering: RenderSettings;
  sidecar: {
    intervalMs: number;
    fullListIntervalMs: number;
    maxRemoveShare: number;
    metricsHost: string;
    metricsPort: number;
  };
  /** Basic auth of /metrics endpoints; required when one listens beyond loopback. */
  metricsAuth?: { username: string; password: string };
  /** Accepted on GET /targets only, so a Prometheus host never holds the broker's credentials. */
  targetsAuth?: { username: string; password: string };
  /** True when BROKER_PASSWORD was not set and one was generated for this run (loopback only). */
  generatedBrokerPassword?: boolean;
  /** DASHBOARD_URL, parsed: the dashboard_url of each service instance; none when unset. */
  dashboardUrl?: DashboardUrlTemplate;
}

/** What a command needs; the loader refuses to start without it. */
export interface Requirements {
  brokerCredentials?: boolean;
  cloudController?: boolean;
  /**
   * With brokerCredentials: when no BROKER_PASSWORD is set and HOST is loopback, use one from
   * this generator instead of refusing to start (`npm start` on a workstation).
   */
  generateBrokerPassword?: () => string;
}

export const isLoopbackHost = (host: string | undefined) =>
  host !== undefined && (host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host));

/** Refuses a weak password at start, naming the variable and never showing the value. */
function checkStrength(env: string, password: string | undefined, username: string | undefined): void {
  if (password === undefined) return;
  const problem = passwordProblem(password, username);
  if (problem)
    throw new ConfigError(
      `${env}: is too weak (${problem}); use at least 12 characters that are not a well-known default, e.g. the output of openssl rand -base64 18`,
    );
}

/** A single, printable line naming the variable and what is wrong with it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const ajv = new Ajv({ allErrors: false, strict: false });
const validators = new Map<SettingName, ReturnType<typeof ajv.compile>>();
for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][]) {
  validators.set(name, ajv.compile(spec.schema));
}

type Env = Record<string, string | undefined>;

/**
 * Credentials of user-provided services in VCAP_SERVICES: the way Cloud Foundry hands
 * secrets to an app without putting them in the manifest. Keys use the same names as the
 * environment variables. Variables set directly in the environment win.
 */
export function credentialsFromVcapServices(raw: string | undefined): Env {
  if (!raw || raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError('VCAP_SERVICES: is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new ConfigError('VCAP_SERVICES: must be a JSON object');
  const provided = (parsed as Record<string, unknown>)['user-provided'];
  if (provided === undefined) return {};
  if (!Array.isArray(provided)) throw new ConfigError('VCAP_SERVICES: "user-provided" must be an array');
  const known = new Set(Object.values(SETTINGS).map((s) => s.env));
  const out: Env = {};
  for (const service of provided) {
    const credentials = (service as { credentials?: unknown })?.credentials;
    if (typeof credentials !== 'object' || credentials === null) continue;
    for (const [key, value] of Object.entries(credentials)) {
      if (!known.has(key)) continue;
      if (typeof value === 'string') out[key] = value;
      else if (typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    }
  }
  return out;
}

function readRaw(env: Env): Partial<Record<SettingName, string>> {
  const fromVcap = credentialsFromVcapServices(env.VCAP_SERVICES);
  const raw: Partial<Record<SettingName, string>> = {};
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingSpec][]) {
    const direct = env[spec.env];
    const value = direct !== undefined && direct !== '' ? direct : fromVcap[spec.env];
    const chosen = value !== undefined && value !== '' ? value : spec.default;
    if (chosen === undefined) continue;
    const validate = validators.get(name)!;
    if (!validate(chosen)) {
      const shown = spec.secret
        ? ''
        : ` (got ${JSON.stringify(chosen.length > 60 ? chosen.slice(0, 60) + '…' : chosen)})`;
      const want = (spec.schema as { description?: string }).description ?? 'a valid value';
      throw new ConfigError(`${spec.env}: must be ${want}${shown}`);
    }
    raw[name] = chosen;
  }
  return raw;
}

const truthy = (v: string | undefined) => v === 'true' || v === '1' || v === 'yes';

function cloudController(raw: Partial<Record<SettingName, string>>, required: boolean): Config['cf'] {
  const apiUrl = raw.cfApiUrl;
  const anyCredential = raw.cfUsername ?? raw.cfPassword ?? raw.cfClientId ?? raw.cfClientSecret;
  if (!apiUrl) {
    if (required)
      throw new ConfigError('CF_API_URL: is required (the Cloud Controller URL, e.g. https://api.sys.example.com)');
    if (anyCredential) throw new ConfigError('CF_API_URL: is required when CF credentials are set');
    return undefined;
  }
  if (raw.cfUsername && !raw.cfPassword) throw new ConfigError('CF_PASSWORD: is required when CF_USERNAME is set');
  if (raw.cfPassword && !raw.cfUsername) throw new ConfigError('CF_USERNAME: is required when CF_PASSWORD is set');
  if (raw.cfClientId && !raw.cfClientSecret)
    throw new ConfigError('CF_CLIENT_SECRET: is required when CF_CLIENT_ID is set');
  if (raw.cfClientSecret && !raw.cfClientId)
    throw new ConfigError('CF_CLIENT_ID: is required when CF_CLIENT_SECRET is set');
  if (raw.cfUsername && raw.cfClientId) {
    throw new ConfigError('CF_USERNAME: set either CF_USERNAME/CF_PASSWORD or CF_CLIENT_ID/CF_CLIENT_SECRET, not both');
  }
  let credentials: CfCredentials;
  if (raw.cfUsername) {
    credentials = { kind: 'password', principal: raw.cfUsername, username: raw.cfUsername, password: raw.cfPassword };
  } else if (raw.cfClientId) {
    credentials = {
      kind: 'client',
      principal: raw.cfClientId,
      clientId: raw.cfClientId,
      clientSecret: raw.cfClientSecret,
    };
  } else {
    throw new ConfigError(
      'CF_USERNAME: set CF_USERNAME and CF_PASSWORD (or CF_CLIENT_ID and CF_CLIENT_SECRET) to read apps from CF_API_URL',
    );
  }
  return { apiUrl: apiUrl.replace(/\/+$/, ''), uaaUrl: raw.uaaUrl?.replace(/\/+$/, ''), credentials };
}

/** Reads, validates and types the configuration; throws ConfigError with one line on the first problem. */
export function loadConfig(env: Env = process.env, needs: Requirements = {}): Config {
  const raw = readRaw(env);
  let generatedBrokerPassword = false;
  if (needs.brokerCredentials) {
    if (!raw.brokerPassword && needs.generateBrokerPassword && isLoopbackHost(raw.host)) {
      raw.brokerUsername ??= 'admin';
      raw.brokerPassword = needs.generateBrokerPassword();
      generatedBrokerPassword = true;
    }
    if (!raw.brokerUsername)
      throw new ConfigError('BROKER_USERNAME: is required; Cloud Foundry authenticates to the broker with it');
    if (!raw.brokerPassword)
      throw new ConfigError('BROKER_PASSWORD: is required; Cloud Foundry authenticates to the broker with it');
  }
  if (!!raw.brokerPreviousUsername !== !!raw.brokerPreviousPassword)
    throw new ConfigError(
      `${raw.brokerPreviousUsername ? 'BROKER_PREVIOUS_PASSWORD' : 'BROKER_PREVIOUS_USERNAME'}: is required when the other is set`,
    );
  if (!!raw.targetsUsername !== !!raw.targetsPassword)
    throw new ConfigError(
      `${raw.targetsUsername ? 'TARGETS_PASSWORD' : 'TARGETS_USERNAME'}: is required when the other is set`,
    );
  checkStrength('BROKER_PASSWORD', raw.brokerPassword, raw.brokerUsername);
  checkStrength('BROKER_PREVIOUS_PASSWORD', raw.brokerPreviousPassword, raw.brokerPreviousUsername);
  checkStrength('TARGETS_PASSWORD', raw.targetsPassword, raw.targetsUsername);
  checkStrength('METRICS_PASSWORD', raw.metricsPassword, raw.metricsUsername);
  const port = Number(raw.port);
  if (!(port >= 0 && port <= 65535)) throw new ConfigError(`PORT: must be a port number 0-65535 (got "${raw.port}")`);
  if (raw.store === 's3' && !raw.s3Bucket) throw new ConfigError('S3_BUCKET: is required when STORE=s3');
  if (raw.serviceId === raw.planId) throw new ConfigError('PLAN_ID: must differ from SERVICE_ID');
  if (!!raw.metricsUsername !== !!raw.metricsPassword)
    throw new ConfigError(
      `${raw.metricsUsername ? 'METRICS_PASSWORD' : 'METRICS_USERNAME'}: is required when the other is set`,
    );
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(raw.sidecarMetricsHost!);
  if (!loopback && !raw.metricsUsername)
    throw new ConfigError(
      `SIDECAR_METRICS_HOST: ${raw.sidecarMetricsHost} is beyond loopback; set METRICS_USERNAME and METRICS_PASSWORD to protect /metrics`,
    );
  const reconcileTimeout = Number(raw.reconcileTimeoutSeconds);
  if (!(reconcileTimeout >= 10 && reconcileTimeout <= 3600))
    throw new ConfigError(
      `RECONCILE_TIMEOUT_SECONDS: must be a whole number of seconds from 10 to 3600 (got "${raw.reconcileTimeoutSeconds}")`,
    );
  const eventPoll = Number(raw.eventPollSeconds);
  if (!(eventPoll >= 0 && eventPoll <= 3600))
    throw new ConfigError(
      `EVENT_POLL_SECONDS: must be a whole number of seconds from 0 (off) to 3600 (got "${raw.eventPollSeconds}")`,
    );
  const rendering = renderSettings(
    { appLabels: raw.appLabels, min: raw.scrapeIntervalMinSeconds, max: raw.scrapeIntervalMaxSeconds },
    (message) => {
      throw new ConfigError(message);
    },
  );
  if (!validCron(raw.updateSchedule!))
    throw new ConfigError(
      `UPDATE_SCHEDULE: must be a cron expression such as */5 * * * * (got "${raw.updateSchedule}")`,
    );
  const dashboardUrl = raw.dashboardUrl === undefined ? undefined : parseDashboardUrlTemplate(raw.dashboardUrl);
  if (dashboardUrl && 'problem' in dashboardUrl) throw new ConfigError(`DASHBOARD_URL: ${dashboardUrl.problem}`);
  return {
    port,
    logLevel: raw.logLevel!,
    brokerUsername: raw.brokerUsername,
    brokerPassword: raw.brokerPassword,
    brokerPrevious: raw.brokerPreviousUsername
      ? { username: raw.brokerPreviousUsername, password: raw.brokerPreviousPassword! }
      : undefined,
    cf: cloudController(raw, needs.cloudController ?? false),
    store: {
      store: raw.store as 'fs' | 's3',
      storeDir: raw.storeDir!,
      s3Bucket: raw.s3Bucket,
      s3Prefix: raw.s3Prefix,
      awsRegion: raw.awsRegion,
      s3Endpoint: raw.s3Endpoint,
      s3ForcePathStyle: truthy(raw.s3ForcePathStyle),
    },
    catalog: { serviceId: raw.serviceId!, serviceName: raw.serviceName!, planId: raw.planId!, planName: raw.planName! },
    updateSchedule: raw.updateSchedule!,
    reconcileTimeoutMs: reconcileTimeout * 1000,
    eventPollMs: eventPoll * 1000,
    rendering,
    sidecar: {
      intervalMs: Math.max(1, Number(raw.syncIntervalSeconds)) * 1000,
      fullListIntervalMs: Number(raw.sidecarFullListSeconds) * 1000,
      maxRemoveShare: Number(raw.sidecarMaxRemoveShare),
      metricsHost: raw.sidecarMetricsHost!,
      metricsPort: Number(raw.sidecarMetricsPort),
    },
    metricsAuth: raw.metricsUsername ? { username: raw.metricsUsername, password: raw.metricsPassword! } : undefined,
    host: raw.host,
    targetsAuth: raw.targetsUsername ? { username: raw.targetsUsername, password: raw.targetsPassword! } : undefined,
    generatedBrokerPassword,
    dashboardUrl,
  };
}
