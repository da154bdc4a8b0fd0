import type { CcProcess, CcRoute } from './types';

/*
 * How CC v3 resources name the app they belong to, in one place: the broker's bind and the
 * updater's batched listings join processes and routes to apps the same way.
 */

/** The app a process belongs to. */
export function appOfProcess(process: CcProcess): string {
  return process.relationships.app.data.guid;
}

/** Every app a route sends traffic to, each once, in the order of the route's destinations. */
export function appsOfRoute(route: CcRoute): string[] {
  return [...new Set(route.destinations.map((d) => d.app.guid))];
}

/** Whether route sends traffic to app's web process (a destination without a process type means web). */
export function routesToWebOf(route: CcRoute, appGuid: string): boolean {
  return route.destinations.some((d) => d.app.guid === appGuid && (d.app.process?.type ?? 'web') === 'web');
}
