import type { IgnoredAnnotation } from './app-metadata';

/** One Prometheus file_sd target group. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** A route of the app as far as target rendering cares. */
export interface AppRoute {
  host: string;
  domain: string;
  /** "" or starting with "/". */
  path: string;
  protocol: 'http' | 'tcp' | string;
  internal: boolean;
}

/**
 * Everything rendering needs to know about one app, built from Cloud Controller
 * answers by snapshot.ts; the same shape whether it came from one bind or a batched run.
 */
export interface AppSnapshot {
  guid: string;
  name: string;
  state: 'STARTED' | 'STOPPED' | string;
  orgName: string;
  spaceName: string;
  /** Web instances to scrape (see snapshot.ts for the rolling-deploy rule). */
  instances: number;
  routes: AppRoute[];
  /** The app's CF labels of the keys APP_LABELS lists (nothing else is kept). */
  labels?: Record<string, string>;
  /** The app's prometheus.io/* annotations (nothing else is kept). */
  annotations?: Record<string, string>;
}

/** What the binding's owner asked for: bind parameters merged over instance parameters. */
export interface TargetOptions {
  /** Metrics path relative to the chosen route, e.g. "/internal/metrics". */
  path?: string;
  scheme?: 'http' | 'https';
  labels?: Record<string, string>;
  /** `__scrape_interval__` / `__scrape_timeout__`: Prometheus durations, already within the bounds. */
  scrapeInterval?: string;
  scrapeTimeout?: string;
  /** The app's `prometheus.io/scrape` is "false": no targets while it is. */
  optedOut?: boolean;
  /** The app's prometheus.io annotations whose values were ignored, and why. */
  ignoredAnnotations?: IgnoredAnnotation[];
}

export type InactiveReason = 'app-stopped' | 'no-instances' | 'no-public-route' | 'opted-out';

export type TargetStatus =
  | { state: 'active'; targets: number; route: string; metricsPath: string }
  | { state: 'inactive'; reason: InactiveReason; detail: string };

export interface RenderedTargets {
  /** Empty when inactive: no file is written for the binding. */
  groups: TargetGroup[];
  status: TargetStatus;
}
