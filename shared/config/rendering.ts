import { parseAppLabels } from '../targets/app-metadata';
import type { RenderSettings } from '../targets/options';

/** A ConfigError-shaped problem: the loader throws it as one line naming the variable. */
type Fail = (message: string) => never;

/**
 * APP_LABELS and the scrape bounds, checked at start: a key that would make a reserved target
 * label (job, instance, org, space, "__..."), two keys making one name, or bounds that contradict
 * each other stop the process with a message naming the variable.
 */
export function renderSettings(raw: { appLabels?: string; min?: string; max?: string }, fail: Fail): RenderSettings {
  let appLabels;
  try {
    appLabels = parseAppLabels(raw.appLabels ?? '');
  } catch (err) {
    return fail(`APP_LABELS: ${(err as Error).message}`);
  }
  const min = Number(raw.min);
  const max = Number(raw.max);
  if (!(Number.isInteger(min) && min >= 1 && min <= 86_400))
    fail(`SCRAPE_INTERVAL_MIN_SECONDS: must be a whole number of seconds from 1 to 86400 (got "${raw.min}")`);
  if (!(Number.isInteger(max) && max >= 1 && max <= 86_400))
    fail(`SCRAPE_INTERVAL_MAX_SECONDS: must be a whole number of seconds from 1 to 86400 (got "${raw.max}")`);
  if (max < min) fail(`SCRAPE_INTERVAL_MAX_SECONDS: must not be below SCRAPE_INTERVAL_MIN_SECONDS (${max} < ${min})`);
  return { appLabels, scrape: { minIntervalSeconds: min, maxIntervalSeconds: max } };
}
