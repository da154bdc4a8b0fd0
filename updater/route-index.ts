/**
 * Which bound apps are mapped to which route, as of the last observation of each app: a route's
 * audit event (update, delete) names the route, not its apps, and a deleted route can no longer
 * be asked. Built from listings the runs make anyway: no extra Cloud Controller request. One
 * array per route, adopted from the observation (10,000 bound apps: one map, no copies).
 */
export class RouteIndex {
  private appsByRoute = new Map<string, string[]>();

  /** After a run over every bound app: what it observed is the whole truth (the map is kept as it is). */
  replaceAll(routeApps: Map<string, string[]>): void {
    this.appsByRoute = routeApps;
  }

  /** After a run over `apps`: their mappings are what it observed, the others' stay. */
  replaceFor(apps: Iterable<string>, routeApps: ReadonlyMap<string, readonly string[]>): void {
    const changed = new Set(apps);
    for (const [route, on] of this.appsByRoute) {
      if (!on.some((app) => changed.has(app))) continue;
      const kept = on.filter((app) => !changed.has(app));
      if (kept.length > 0) this.appsByRoute.set(route, kept);
      else this.appsByRoute.delete(route);
    }
    for (const [route, on] of routeApps) this.appsByRoute.set(route, [...(this.appsByRoute.get(route) ?? []), ...on]);
  }

  appsOn(route: string): readonly string[] {
    return this.appsByRoute.get(route) ?? [];
  }
}
