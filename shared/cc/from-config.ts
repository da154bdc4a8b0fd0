import type { CfCredentials, Config } from '../config/load';
import type { Logger } from '../logger';
import { ANNOTATION_NAMES, MAX_KEPT_ANNOTATION_LENGTH } from '../targets/app-metadata';
import { CloudControllerClient, CloudControllerClientOptions } from './client';
import type { CfAuth } from './uaa';

/** The UAA grant of the configured credentials (a user's password, or a client's secret). */
export function cfAuthFromCredentials(c: CfCredentials): CfAuth {
  return c.kind === 'password'
    ? { kind: 'password', username: c.username!, password: c.password! }
    : { kind: 'client', clientId: c.clientId!, clientSecret: c.clientSecret! };
}

/** The CC client for a configured process, or undefined when CF_API_URL is not set. */
export function ccClientFromConfig(
  config: Config,
  logger: Logger,
  tuning: {
    timeoutMs: number;
    retries: number;
    maxRetryAfterMs: number;
    onRequest?: CloudControllerClientOptions['onRequest'];
  },
): CloudControllerClient | undefined {
  if (!config.cf) return undefined;
  return new CloudControllerClient({
    apiUrl: config.cf.apiUrl,
    uaaUrl: config.cf.uaaUrl,
    auth: cfAuthFromCredentials(config.cf.credentials),
    logger,
    appMetadata: {
      labelKeys: config.rendering.appLabels.map((m) => m.key),
      annotationKeys: ANNOTATION_NAMES,
      maxValueLength: MAX_KEPT_ANNOTATION_LENGTH,
    },
    ...tuning,
  });
}
