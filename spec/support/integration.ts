/**
 * Suites whose tests need a real server or a spawned process (s3rver, Prometheus, promtool,
 * nginx, a `cf-app-discovery` CLI child) carry this tag in their title. `npm run test:unit`
 * runs everything else (`.mocharc.unit.js` inverts a grep on this string); `npm test` runs both.
 */
export const INTEGRATION = '@integration';

/** The tag for a suite parameterised by store: only the s3 store needs a real server (s3rver). */
export function integrationIf(needsRealServer: boolean): string {
  return needsRealServer ? ` ${INTEGRATION}` : '';
}
