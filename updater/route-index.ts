/**
 * Which bound apps are mapped to which route, as of the last observation of each app: a route's
 * audit event (update, delete) names the route, not its apps, and a deleted route can no longer
 * be asked. Built from listings the runs make anyway: no extra Cloud Controller request.
 */
export class RouteIndex {
  private readonly appsByRoute = new Map<string, Set<string>>();
  private readonly routesByApp = new Map<string, Set<string>>();

  /** After a run over every bound app: what it observed is the whole truth. */
  replaceAll(routeApps: ReadonlyMap<string, readonly string[]>): void {
    this.appsByRoute.clear();
    this.routesByApp.clear();
    this.add(routeApps);
  }

  /** After a run over `apps`: their mappings are what it observed, the others' stay. */
  replaceFor(apps: Iterable<string>, routeApps: ReadonlyMap<string, readonly string[]>): void {
    for (const app of apps) {
      for (const route of this.routesByApp.get(app) ?? []) {
        const on = this.appsByRoute.get(route);
        on?.delete(app);
        if (on?.size === 0) this.appsByRoute.delete(route);
      }
      this.routesByApp.delete(app);
    }
    this.add(routeApps);
  }

  appsOn(route: string): Iterable<string> {
    return this.appsByRoute.get(route) ?? [];
  }

  private add(routeApps: ReadonlyMap<string, readonly string[]>): void {
    for (const [route, apps] of routeApps) {
      for (const app of apps) {
        (this.appsByRoute.get(route) ?? this.appsByRoute.set(route, new Set()).get(route)!).add(app);
        (this.routesByApp.get(app) ?? this.routesByApp.set(app, new Set()).get(app)!).add(route);
      }
    }
  }
}
