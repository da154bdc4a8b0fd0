/**
 * Every setting the processes read, with its environment variable name, default and rule.
 * One table so that config loading, the README table and `--help` cannot drift apart.
 */
export interface SettingSpec {
  env: string;
  description: string;
  default?: string;
  /** JSON-schema fragment applied to the raw string value. */
  schema: Record<string, unknown>;
  /** Never echoed in errors or logs. */
  secret?: boolean;
  /** The commands that read it, for `cf-app-discovery <command> --help`. */
  commands: readonly CommandName[];
}

export type CommandName = 'broker' | 'updater' | 'sidecar' | 'all' | 'demo' | 'doctor';

// Who reads what: `all` runs broker, updater schedule and sidecar, so it reads what each does.
const EVERY_COMMAND: CommandName[] = ['broker', 'updater', 'sidecar', 'all', 'demo'];
const BROKER_UPDATER_DEMO: CommandName[] = ['broker', 'updater', 'all', 'demo'];
const SERVING: CommandName[] = ['broker', 'all'];
// `doctor` checks a deployment with the settings its processes read.
const CC_READERS: CommandName[] = ['broker', 'updater', 'all', 'doctor'];
const STORE_USERS: CommandName[] = ['broker', 'updater', 'sidecar', 'all', 'doctor'];
const METRICS_SERVERS: CommandName[] = ['broker', 'updater', 'sidecar', 'all'];
const SCHEDULING: CommandName[] = ['updater', 'all'];
const MIRRORING: CommandName[] = ['sidecar', 'all'];
// The scrape bounds: writers render within them, and the sidecar checks files against them.
const RENDER_AND_READ: CommandName[] = ['broker', 'updater', 'sidecar', 'all', 'demo'];

const URL_SCHEMA = { type: 'string', pattern: '^https?://[^\\s/$.?#][^\\s]*$', description: 'an http(s) URL' };
const NON_EMPTY = { type: 'string', minLength: 1, maxLength: 1024, description: 'a non-empty value' };
const BOOLEAN = { type: 'string', enum: ['true', 'false', '1', '0', 'yes', 'no'], description: 'true or false' };
const SERVICE_ID_SCHEMA = {
  type: 'string',
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$',
  description: 'letters, digits, "-", "_", "." (at most 128)',
};
const CATALOG_NAME = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9_-]{0,49}$',
  description: 'lower-case letters, digits, "-" or "_" (at most 50), as CF marketplace names',
};

export const SETTINGS = {
  port: {
    env: 'PORT',
    description: 'HTTP port of the broker',
    default: '8080',
    schema: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'a port number 0-65535' },
    commands: BROKER_UPDATER_DEMO,
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'fatal, error, warn, info, debug or trace',
    default: 'info',
    schema: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      description: 'one of fatal, error, warn, info, debug, trace, silent',
    },
    commands: EVERY_COMMAND,
  },
  brokerUsername: {
    env: 'BROKER_USERNAME',
    description: 'Basic-auth user that Cloud Foundry uses to call the broker (required by `broker`)',
    schema: NON_EMPTY,
    commands: SERVING,
  },
  brokerPassword: {
    env: 'BROKER_PASSWORD',
    description: 'Basic-auth password for BROKER_USERNAME (required by `broker`)',
    schema: NON_EMPTY,
    secret: true,
    commands: SERVING,
  },
  brokerPreviousUsername: {
    env: 'BROKER_PREVIOUS_USERNAME',
    description: 'while rotating broker credentials: the old user, still accepted until it is unset',
    schema: NON_EMPTY,
    commands: SERVING,
  },
  brokerPreviousPassword: {
    env: 'BROKER_PREVIOUS_PASSWORD',
    description: 'while rotating broker credentials: the old password',
    schema: NON_EMPTY,
    secret: true,
    commands: SERVING,
  },
  cfApiUrl: {
    env: 'CF_API_URL',
    description: 'Cloud Controller URL, e.g. https://api.sys.example.com',
    schema: URL_SCHEMA,
    commands: CC_READERS,
  },
  cfUsername: {
    env: 'CF_USERNAME',
    description: 'CF user for the UAA password grant (client `cf`)',
    schema: NON_EMPTY,
    commands: CC_READERS,
  },
  cfPassword: {
    env: 'CF_PASSWORD',
    description: 'password of CF_USERNAME',
    schema: NON_EMPTY,
    secret: true,
    commands: CC_READERS,
  },
  cfClientId: {
    env: 'CF_CLIENT_ID',
    description: 'UAA client for the client-credentials grant (instead of CF_USERNAME)',
    schema: NON_EMPTY,
    commands: CC_READERS,
  },
  cfClientSecret: {
    env: 'CF_CLIENT_SECRET',
    description: 'secret of CF_CLIENT_ID',
    schema: NON_EMPTY,
    secret: true,
    commands: CC_READERS,
  },
  uaaUrl: {
    env: 'UAA_URL',
    description: 'UAA URL; discovered from CF_API_URL when unset',
    schema: URL_SCHEMA,
    commands: CC_READERS,
  },
  store: {
    env: 'STORE',
    description: '`fs` (a local directory) or `s3` (a bucket)',
    default: 'fs',
    schema: { type: 'string', enum: ['fs', 's3'], description: 'fs or s3' },
    commands: STORE_USERS,
  },
  storeDir: {
    env: 'STORE_DIR',
    description: 'directory of the fs store',
    default: './data',
    schema: NON_EMPTY,
    commands: STORE_USERS,
  },
  s3Bucket: {
    env: 'S3_BUCKET',
    description: 'bucket of the s3 store (required when STORE=s3)',
    schema: {
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
      description: 'an S3 bucket name (3-63 lower-case letters, digits, "." or "-")',
    },
    commands: STORE_USERS,
  },
  s3Prefix: {
    env: 'S3_PREFIX',
    description: 'key prefix inside the bucket, e.g. `prod/`',
    default: '',
    schema: {
      type: 'string',
      pattern: '^([A-Za-z0-9._-]+/)*([A-Za-z0-9._-]+/?)?$',
      description: 'path segments of letters, digits, ".", "_", "-" separated by "/"',
    },
    commands: STORE_USERS,
  },
  awsRegion: {
    env: 'AWS_REGION',
    description: 'region of the bucket',
    schema: { type: 'string', pattern: '^[a-z0-9-]{2,32}$', description: 'an AWS region name such as eu-west-2' },
    commands: STORE_USERS,
  },
  s3Endpoint: {
    env: 'S3_ENDPOINT',
    description: 'endpoint of an S3-compatible server',
    schema: URL_SCHEMA,
    commands: STORE_USERS,
  },
  s3ForcePathStyle: {
    env: 'S3_FORCE_PATH_STYLE',
    description: 'path-style bucket addressing (S3-compatible servers)',
    default: 'false',
    schema: BOOLEAN,
    commands: STORE_USERS,
  },
  updateSchedule: {
    env: 'UPDATE_SCHEDULE',
    description: 'cron schedule of `updater` runs',
    default: '*/5 * * * *',
    schema: { type: 'string', minLength: 9, maxLength: 100, description: 'a cron expression such as */5 * * * *' },
    commands: SCHEDULING,
  },
  syncIntervalSeconds: {
    env: 'SYNC_INTERVAL_SECONDS',
    description: 'sidecar poll interval',
    default: '5',
    schema: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'a whole number of seconds' },
    commands: [...MIRRORING, 'doctor'],
  },
  sidecarFullListSeconds: {
    env: 'SIDECAR_FULL_LIST_SECONDS',
    description: 'sidecar lists every target at least this often, whatever the change marker says',
    default: '300',
    schema: { type: 'string', pattern: '^[0-9]{1,6}$', description: 'a whole number of seconds' },
    commands: [...MIRRORING, 'doctor'],
  },
  sidecarMaxRemoveShare: {
    env: 'SIDECAR_MAX_REMOVE_SHARE',
    description: 'a listing removing more than this share of target files waits for a second listing',
    default: '0.5',
    schema: { type: 'string', pattern: '^(0(\\.[0-9]+)?|1(\\.0+)?)$', description: 'a number between 0 and 1' },
    commands: MIRRORING,
  },
  sidecarMetricsHost: {
    env: 'SIDECAR_METRICS_HOST',
    description: 'address of the sidecar /metrics listener',
    default: '127.0.0.1',
    schema: NON_EMPTY,
    commands: MIRRORING,
  },
  sidecarMetricsPort: {
    env: 'SIDECAR_METRICS_PORT',
    description: 'port of the sidecar /metrics listener',
    default: '9477',
    schema: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'a port number 0-65535' },
    commands: MIRRORING,
  },
  metricsUsername: {
    env: 'METRICS_USERNAME',
    description: 'basic-auth user for /metrics (required when it listens beyond loopback)',
    schema: NON_EMPTY,
    commands: [...METRICS_SERVERS, 'doctor'],
  },
  metricsPassword: {
    env: 'METRICS_PASSWORD',
    description: 'basic-auth password for METRICS_USERNAME',
    schema: NON_EMPTY,
    secret: true,
    commands: [...METRICS_SERVERS, 'doctor'],
  },
  serviceId: {
    env: 'SERVICE_ID',
    description: 'catalog id of the service offering',
    default: 'a9d3f3c8-6c7e-4f3b-9d2e-0f6b6e1c5a11',
    schema: SERVICE_ID_SCHEMA,
    commands: SERVING,
  },
  serviceName: {
    env: 'SERVICE_NAME',
    description: 'marketplace name of the service',
    default: 'prometheus',
    schema: CATALOG_NAME,
    commands: SERVING,
  },
  planId: {
    env: 'PLAN_ID',
    description: 'catalog id of the plan',
    default: '5e0c7a52-2f4a-4e5b-8c1d-7d9b3a6f2e22',
    schema: SERVICE_ID_SCHEMA,
    commands: SERVING,
  },
  planName: {
    env: 'PLAN_NAME',
    description: 'marketplace name of the plan',
    default: 'default',
    schema: CATALOG_NAME,
    commands: SERVING,
  },
  host: {
    env: 'HOST',
    description:
      'address the broker listens on; all interfaces when unset (CF needs them). On loopback, `broker` and `all` generate BROKER_PASSWORD when none is set (npm start)',
    schema: { type: 'string', pattern: '^[A-Za-z0-9.:-]{1,253}$', description: 'an IP address or host name' },
    commands: SERVING,
  },
  targetsUsername: {
    env: 'TARGETS_USERNAME',
    description: 'basic-auth user accepted on GET /targets only (Prometheus http_sd), refused everywhere else',
    schema: NON_EMPTY,
    commands: SERVING,
  },
  targetsPassword: {
    env: 'TARGETS_PASSWORD',
    description: 'basic-auth password for TARGETS_USERNAME',
    schema: NON_EMPTY,
    secret: true,
    commands: SERVING,
  },
  reconcileTimeoutSeconds: {
    env: 'RECONCILE_TIMEOUT_SECONDS',
    description:
      "a reconcile still asking the Cloud Controller after this long gives up and changes nothing (10-3600; keep it below the schedule's interval)",
    default: '240',
    schema: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'a whole number of seconds from 10 to 3600' },
    commands: CC_READERS,
  },
  eventPollSeconds: {
    env: 'EVENT_POLL_SECONDS',
    description:
      "how often the updater asks the Cloud Controller's audit events what changed, so targets follow within seconds (0 turns the follower off; the schedule still runs)",
    default: '10',
    schema: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'a whole number of seconds from 0 to 3600' },
    commands: [...SCHEDULING, 'doctor'],
  },
  dashboardUrl: {
    env: 'DASHBOARD_URL',
    description:
      'the link `cf service` shows app teams (OSB dashboard_url): an http(s) URL template with placeholders {org}, {space} (the names CF sends), {org_guid}, {space_guid}, {instance_id}, each filled URL-encoded; unset: no link',
    schema: {
      type: 'string',
      minLength: 1,
      maxLength: 2048,
      description: 'an http(s) URL template (at most 2048 characters)',
    },
    commands: [...SERVING, 'demo'],
  },
  appLabels: {
    env: 'APP_LABELS',
    description:
      'comma list (at most 10) of CF app label keys copied onto the app\'s targets, e.g. team,example.com/cost-center; the target label is the key\'s name part with "-" and "." as "_" (cost_center). Unlisted labels never reach a target',
    schema: { type: 'string', maxLength: 4096, description: 'a comma list of CF label keys' },
    commands: BROKER_UPDATER_DEMO,
  },
  scrapeIntervalMinSeconds: {
    env: 'SCRAPE_INTERVAL_MIN_SECONDS',
    description:
      "shortest scrape interval a binding, instance or app annotation may ask for (scrape_interval); also the longest scrape timeout without an interval. Keep it at or above the Prometheus job's scrape_timeout",
    default: '10',
    schema: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'a whole number of seconds from 1 to 86400' },
    commands: RENDER_AND_READ,
  },
  scrapeIntervalMaxSeconds: {
    env: 'SCRAPE_INTERVAL_MAX_SECONDS',
    description: 'longest scrape interval a binding, instance or app annotation may ask for (scrape_interval)',
    default: '3600',
    schema: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'a whole number of seconds from 1 to 86400' },
    commands: RENDER_AND_READ,
  },
} satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
