/**
 * Prometheus durations (model.ParseDuration): units y w d h m s ms, each at most once and in
 * this order, e.g. "30s", "1m30s". Shared by the bind parameter schemas, the app annotations
 * and the target file schema, so all three accept the same texts.
 */
export const DURATION_PATTERN =
  '^(?=.)(?:([0-9]{1,6})y)?(?:([0-9]{1,6})w)?(?:([0-9]{1,6})d)?(?:([0-9]{1,6})h)?(?:([0-9]{1,6})m)?(?:([0-9]{1,6})s)?(?:([0-9]{1,6})ms)?$';
const DURATION_REGEX = new RegExp(DURATION_PATTERN);
const DURATION_UNIT_MS = [365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1];
/** Longer than any duration within the bounds; the schemas' maxLength. */
export const MAX_DURATION_LENGTH = 40;

/** Milliseconds of a Prometheus duration, or undefined when it is not one (or is zero). */
export function durationMs(text: string): number | undefined {
  if (text.length > MAX_DURATION_LENGTH) return undefined;
  const m = DURATION_REGEX.exec(text);
  if (!m) return undefined;
  let ms = 0;
  for (let i = 0; i < DURATION_UNIT_MS.length; i++) if (m[i + 1] !== undefined) ms += Number(m[i + 1]) * DURATION_UNIT_MS[i];
  return ms > 0 ? ms : undefined;
}

/** Per-target scrape settings an operator allows (SCRAPE_INTERVAL_MIN/MAX_SECONDS); in seconds. */
export interface ScrapeBounds {
  minIntervalSeconds: number;
  maxIntervalSeconds: number;
}
export const DEFAULT_SCRAPE_BOUNDS: ScrapeBounds = { minIntervalSeconds: 10, maxIntervalSeconds: 3600 };
/** A scrape timeout shorter than this cannot reach an app through the proxy and the router. */
export const MIN_SCRAPE_TIMEOUT_SECONDS = 1;

/** Why `text` is no scrape interval within the bounds, or undefined. */
export function intervalProblem(text: string, bounds: ScrapeBounds): string | undefined {
  const ms = durationMs(text);
  if (ms === undefined) return 'is not a Prometheus duration such as 30s or 1m30s';
  if (ms < bounds.minIntervalSeconds * 1000 || ms > bounds.maxIntervalSeconds * 1000)
    return `is outside the allowed ${bounds.minIntervalSeconds}s to ${bounds.maxIntervalSeconds}s`;
  return undefined;
}

/**
 * Why `text` is no scrape timeout: a duration from MIN_SCRAPE_TIMEOUT_SECONDS up to `limitMs`
 * (the interval it goes with; Prometheus drops a target whose timeout exceeds its interval).
 */
export function timeoutProblem(text: string, limitMs: number): string | undefined {
  const ms = durationMs(text);
  if (ms === undefined) return 'is not a Prometheus duration such as 10s';
  if (ms < MIN_SCRAPE_TIMEOUT_SECONDS * 1000 || ms > limitMs)
    return `is outside the allowed ${MIN_SCRAPE_TIMEOUT_SECONDS}s to ${limitMs / 1000}s`;
  return undefined;
}
