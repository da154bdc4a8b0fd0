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
}

const URL_SCHEMA = { type: 'string', pattern: '^https?://[^\\s/$.?#][^\\s]*$', description: 'an http(s) URL' };
const NON_EMPTY = { type: 'string', minLength: 1, maxLength: 1024, description: 'a non-empty value' };
const BOOLEAN = { type: 'string', enum: ['true', 'false', '1', '0', 'yes', 'no'], description: 'true or false' };
const SERVICE_ID_SCHEMA = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', description: 'letters, digits, "-", "_", "." (at most 128)' };
const CATALOG_NAME = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,49}$', description: 'lower-case letters, digits, "-" or "_" (at most 50), as CF marketplace names' };

export const SETTINGS = {
  port: { env: 'PORT', description: 'HTTP port of the broker', default: '8080', schema: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'a port number 0-65535' } },
  logLevel: { env: 'LOG_LEVEL', description: 'fatal, error, warn, info, debug or trace', default: 'info', schema: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'one of fatal, error, warn, info, debug, trace, silent' } },
  brokerUsername: { env: 'BROKER_USERNAME', description: 'Basic-auth user that Cloud Foundry uses to call the broker (required by `broker`)', schema: NON_EMPTY },
  brokerPassword: { env: 'BROKER_PASSWORD', description: 'Basic-auth password for BROKER_USERNAME (required by `broker`)', schema: NON_EMPTY, secret: true },
  brokerPreviousUsername: { env: 'BROKER_PREVIOUS_USERNAME', description: 'while rotating broker credentials: the old user, still accepted until it is unset', schema: NON_EMPTY },
  brokerPreviousPassword: { env: 'BROKER_PREVIOUS_PASSWORD', description: 'while rotating broker credentials: the old password', schema: NON_EMPTY, secret: true },
  cfApiUrl: { env: 'CF_API_URL', description: 'Cloud Controller URL, e.g. https://api.sys.example.com', schema: URL_SCHEMA },
  cfUsername: { env: 'CF_USERNAME', description: 'CF user for the UAA password grant (client `cf`)', schema: NON_EMPTY },
  cfPassword: { env: 'CF_PASSWORD', description: 'password of CF_USERNAME', schema: NON_EMPTY, secret: true },
  cfClientId: { env: 'CF_CLIENT_ID', description: 'UAA client for the client-credentials grant (instead of CF_USERNAME)', schema: NON_EMPTY },
  cfClientSecret: { env: 'CF_CLIENT_SECRET', description: 'secret of CF_CLIENT_ID', schema: NON_EMPTY, secret: true },
  uaaUrl: { env: 'UAA_URL', description: 'UAA URL; discovered from CF_API_URL when unset', schema: URL_SCHEMA },
  store: { env: 'STORE', description: '`fs` (a local directory) or `s3` (a bucket)', default: 'fs', schema: { type: 'string', enum: ['fs', 's3'], description: 'fs or s3' } },
  storeDir: { env: 'STORE_DIR', description: 'directory of the fs store', default: './data', schema: NON_EMPTY },
  s3Bucket: { env: 'S3_BUCKET', description: 'bucket of the s3 store (required when STORE=s3)', schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$', description: 'an S3 bucket name (3-63 lower-case letters, digits, "." or "-")' } },
  s3Prefix: { env: 'S3_PREFIX', description: 'key prefix inside the bucket, e.g. `prod/`', default: '', schema: { type: 'string', pattern: '^([A-Za-z0-9._-]+/)*([A-Za-z0-9._-]+/?)?$', description: 'path segments of letters, digits, ".", "_", "-" separated by "/"' } },
  awsRegion: { env: 'AWS_REGION', description: 'region of the bucket', schema: { type: 'string', pattern: '^[a-z0-9-]{2,32}$', description: 'an AWS region name such as eu-west-2' } },
  s3Endpoint: { env: 'S3_ENDPOINT', description: 'endpoint of an S3-compatible server', schema: URL_SCHEMA },
  s3ForcePathStyle: { env: 'S3_FORCE_PATH_STYLE', description: 'path-style bucket addressing (S3-compatible servers)', default: 'false', schema: BOOLEAN },
  updateSchedule: { env: 'UPDATE_SCHEDULE', description: 'cron schedule of `updater` runs', default: '*/5 * * * *', schema: { type: 'string', minLength: 9, maxLength: 100, description: 'a cron expression such as */5 * * * *' } },
  syncIntervalSeconds: { env: 'SYNC_INTERVAL_SECONDS', description: 'sidecar poll interval', default: '5', schema: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'a whole number of seconds' } },
  sidecarFullListSeconds: { env: 'SIDECAR_FULL_LIST_SECONDS', description: 'sidecar lists every target at least this often, whatever the change marker says', default: '300', schema: { type: 'string', pattern: '^[0-9]{1,6}$', description: 'a whole number of seconds' } },
  sidecarMaxRemoveShare: { env: 'SIDECAR_MAX_REMOVE_SHARE', description: 'a listing removing more than this share of target files waits for a second listing', default: '0.5', schema: { type: 'string', pattern: '^(0(\\.[0-9]+)?|1(\\.0+)?)$', description: 'a number between 0 and 1' } },
  sidecarMetricsHost: { env: 'SIDECAR_METRICS_HOST', description: 'address of the sidecar /metrics listener', default: '127.0.0.1', schema: NON_EMPTY },
  sidecarMetricsPort: { env: 'SIDECAR_METRICS_PORT', description: 'port of the sidecar /metrics listener', default: '9477', schema: { type: 'string', pattern: '^[0-9]{1,5}$', description: 'a port number 0-65535' } },
  metricsUsername: { env: 'METRICS_USERNAME', description: 'basic-auth user for /metrics (required when it listens beyond loopback)', schema: NON_EMPTY },
  metricsPassword: { env: 'METRICS_PASSWORD', description: 'basic-auth password for METRICS_USERNAME', schema: NON_EMPTY, secret: true },
  serviceId: { env: 'SERVICE_ID', description: 'catalog id of the service offering', default: 'a9d3f3c8-6c7e-4f3b-9d2e-0f6b6e1c5a11', schema: SERVICE_ID_SCHEMA },
  serviceName: { env: 'SERVICE_NAME', description: 'marketplace name of the service', default: 'prometheus', schema: CATALOG_NAME },
  planId: { env: 'PLAN_ID', description: 'catalog id of the plan', default: '5e0c7a52-2f4a-4e5b-8c1d-7d9b3a6f2e22', schema: SERVICE_ID_SCHEMA },
  planName: { env: 'PLAN_NAME', description: 'marketplace name of the plan', default: 'default', schema: CATALOG_NAME },
  host: { env: 'HOST', description: 'address the broker listens on; all interfaces when unset (CF needs them). On loopback, `broker` and `all` generate BROKER_PASSWORD when none is set (npm start)', schema: { type: 'string', pattern: '^[A-Za-z0-9.:-]{1,253}$', description: 'an IP address or host name' } },
  targetsUsername: { env: 'TARGETS_USERNAME', description: 'basic-auth user accepted on GET /targets only (Prometheus http_sd), refused everywhere else', schema: NON_EMPTY },
  targetsPassword: { env: 'TARGETS_PASSWORD', description: 'basic-auth password for TARGETS_USERNAME', schema: NON_EMPTY, secret: true },
  reconcileTimeoutSeconds: { env: 'RECONCILE_TIMEOUT_SECONDS', description: 'a reconcile still asking the Cloud Controller after this long gives up and changes nothing (10-3600; keep it below the schedule\'s interval)', default: '240', schema: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'a whole number of seconds from 10 to 3600' } },
} satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
