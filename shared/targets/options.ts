import {
  ANNOTATIONS, AppLabelMapping, appTargetLabels, IgnoredAnnotation,
} from './app-metadata';
import { DEFAULT_SCRAPE_BOUNDS, durationMs, intervalProblem, ScrapeBounds, timeoutProblem } from './duration';
import { MAX_PATH_PARAMETER_LENGTH, PATH_REGEX } from './host';
import type { TargetOptions } from './types';

export interface InstanceParameters {
  labels?: Record<string, string>;
  scrape_interval?: string;
  scrape_timeout?: string;
}

export interface BindingParameters {
  path?: string;
  scheme?: 'http' | 'https';
  labels?: Record<string, string>;
  scrape_interval?: string;
  scrape_timeout?: string;
}

/** The operator's settings every renderer (broker, updater) is handed by its cli/ module. */
export interface RenderSettings {
  /** APP_LABELS: the app's CF labels copied onto its targets. */
  appLabels: readonly AppLabelMapping[];
  /** SCRAPE_INTERVAL_MIN/MAX_SECONDS. */
  scrape: ScrapeBounds;
}
export const DEFAULT_RENDER_SETTINGS: RenderSettings = { appLabels: [], scrape: DEFAULT_SCRAPE_BOUNDS };

/** What rendering reads of an app's metadata (only APP_LABELS keys and prometheus.io annotations are kept). */
export interface AppMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** What the app's annotations ask for, each value checked by the bind parameter's rules. */
export interface AnnotationSettings {
  optedOut: boolean;
  path?: string;
  scheme?: 'http' | 'https';
  scrapeInterval?: string;
  scrapeTimeout?: string;
  ignored: IgnoredAnnotation[];
}

/** Reads the prometheus.io annotations; an invalid value is ignored (and listed), never fatal. */
export function readAnnotations(annotations: Record<string, string> | undefined, bounds: ScrapeBounds): AnnotationSettings {
  const out: AnnotationSettings = { optedOut: false, ignored: [] };
  if (!annotations) return out;
  const value = (name: string) => (typeof annotations[name] === 'string' ? annotations[name] : undefined);
  const scrape = value(ANNOTATIONS.scrape);
  if (scrape !== undefined) {
    const v = scrape.trim().toLowerCase();
    if (v === 'false') out.optedOut = true;
    else if (v !== 'true') out.ignored.push({ annotation: ANNOTATIONS.scrape, problem: 'is neither "true" nor "false"' });
  }
  const path = value(ANNOTATIONS.path);
  if (path !== undefined) {
    if (path.length <= MAX_PATH_PARAMETER_LENGTH && PATH_REGEX.test(path)) out.path = path;
    else
      out.ignored.push({
        annotation: ANNOTATIONS.path,
        problem: `is not an absolute URL path of at most ${MAX_PATH_PARAMETER_LENGTH} characters such as /internal/metrics (no "..", "//", "?" or "#")`,
      });
  }
  const scheme = value(ANNOTATIONS.scheme);
  if (scheme !== undefined) {
    if (scheme === 'http' || scheme === 'https') out.scheme = scheme;
    else out.ignored.push({ annotation: ANNOTATIONS.scheme, problem: 'is neither "http" nor "https"' });
  }
  const interval = value(ANNOTATIONS.scrapeInterval);
  if (interval !== undefined) {
    const problem = intervalProblem(interval, bounds);
    if (problem) out.ignored.push({ annotation: ANNOTATIONS.scrapeInterval, problem });
    else out.scrapeInterval = interval;
  }
  const timeout = value(ANNOTATIONS.scrapeTimeout);
  if (timeout !== undefined) {
    const problem = timeoutProblem(timeout, bounds.maxIntervalSeconds * 1000);
    if (problem) out.ignored.push({ annotation: ANNOTATIONS.scrapeTimeout, problem });
    else out.scrapeTimeout = timeout;
  }
  return out;
}

/** The first value, most specific first, that passes `valid`. */
function firstOf<T>(valid: (v: T) => boolean, ...candidates: Array<T | undefined>): T | undefined {
  return candidates.find((c): c is T => c !== undefined && valid(c));
}

/**
 * The one precedence rule, most specific first: the binding's parameters, then the app's
 * annotations, then the instance's parameters, then the operator's defaults (no label: the
 * Prometheus job's own settings). Labels merge name by name in the same order, with the app's
 * APP_LABELS labels in the annotations' place. A stored parameter outside the current bounds
 * (the operator tightened them after the bind) is skipped like an absent one.
 *
 * The timeout never exceeds the interval it goes with (Prometheus would drop the target): one
 * above it is lowered to it; without an interval it is lowered to the smallest interval
 * allowed, because the Prometheus job's own interval is not known here.
 */
export function targetOptions(
  instance: InstanceParameters | undefined,
  binding: BindingParameters | undefined,
  app: AppMetadata = {},
  settings: RenderSettings = DEFAULT_RENDER_SETTINGS,
): TargetOptions {
  const bounds = settings.scrape;
  const annotations = readAnnotations(app.annotations, bounds);
  const labels = {
    ...(instance?.labels ?? {}),
    ...appTargetLabels(app.labels, settings.appLabels),
    ...(binding?.labels ?? {}),
  };
  const inBounds = (v: string) => intervalProblem(v, bounds) === undefined;
  const scrapeInterval = firstOf(inBounds, binding?.scrape_interval, annotations.scrapeInterval, instance?.scrape_interval);
  const maxMs = bounds.maxIntervalSeconds * 1000;
  let scrapeTimeout = firstOf(
    (v: string) => timeoutProblem(v, maxMs) === undefined,
    binding?.scrape_timeout,
    annotations.scrapeTimeout,
    instance?.scrape_timeout,
  );
  if (scrapeTimeout !== undefined) {
    const limitMs = scrapeInterval !== undefined ? durationMs(scrapeInterval)! : bounds.minIntervalSeconds * 1000;
    if (durationMs(scrapeTimeout)! > limitMs) scrapeTimeout = scrapeInterval ?? `${bounds.minIntervalSeconds}s`;
  }
  const options: TargetOptions = {
    path: binding?.path ?? annotations.path,
    scheme: binding?.scheme ?? annotations.scheme,
    labels: Object.keys(labels).length > 0 ? labels : undefined,
  };
  if (scrapeInterval !== undefined) options.scrapeInterval = scrapeInterval;
  if (scrapeTimeout !== undefined) options.scrapeTimeout = scrapeTimeout;
  if (annotations.optedOut) options.optedOut = true;
  if (annotations.ignored.length > 0) options.ignoredAnnotations = annotations.ignored;
  return options;
}

/**
 * Why scrape parameters (a bind's or an instance's) are refused, naming the parameter, or
 * undefined: each within the operator's bounds, and the timeout not above the interval when
 * both are given.
 */
export function scrapeParametersProblem(p: { scrape_interval?: string; scrape_timeout?: string }, bounds: ScrapeBounds): string | undefined {
  if (p.scrape_interval !== undefined) {
    const problem = intervalProblem(p.scrape_interval, bounds);
    if (problem) return `scrape_interval ${JSON.stringify(p.scrape_interval)} ${problem}`;
  }
  if (p.scrape_timeout !== undefined) {
    const limitMs = p.scrape_interval !== undefined ? durationMs(p.scrape_interval)! : bounds.maxIntervalSeconds * 1000;
    const problem = timeoutProblem(p.scrape_timeout, limitMs);
    if (problem) return `scrape_timeout ${JSON.stringify(p.scrape_timeout)} ${problem}${p.scrape_interval !== undefined ? ' (the scrape_interval)' : ''}`;
  }
  return undefined;
}
