import { extraLabelProblem, MAX_LABEL_VALUE_LENGTH } from './labels';

/**
 * What an app's Cloud Foundry metadata may do to its targets: the labels an operator lists in
 * APP_LABELS become target labels, and the `prometheus.io/*` annotations steer scraping.
 * Metadata comes with the app in every CC answer we already ask for (no extra request).
 */

/**
 * A CF metadata key (CC docs, concepts/metadata): an optional prefix (a DNS subdomain of at
 * most 253 characters) and "/", then a name of 1-63 letters, digits, "-", "_" and ".", starting
 * and ending with a letter or digit.
 */
const KEY_PREFIX = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const KEY_NAME = /^(?=.{1,63}$)[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
/** A CF label value: 0-63 characters of the name's set, starting and ending alphanumeric. */
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/** Most keys APP_LABELS may list; the target file schema allows this many labels besides the bind's. */
export const MAX_APP_LABELS = 10;

/** One APP_LABELS entry: the CF label key read from the app and the target label it becomes. */
export interface AppLabelMapping {
  key: string;
  name: string;
}

/** The target label name of a CF label key: its name part, "-" and "." as "_" (`example.com/cost-center` -> `cost_center`). */
export function targetLabelName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1).replace(/[-.]/g, '_');
}

/** Why `key` is no CF label key, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  if (slash !== key.lastIndexOf('/')) return 'has more than one "/"';
  if (slash >= 0 && !KEY_PREFIX.test(key.slice(0, slash))) return 'has a prefix that is not a DNS subdomain of at most 253 characters';
  if (!KEY_NAME.test(key.slice(slash + 1)))
    return 'has a name that is not 1-63 letters, digits, "-", "_" or "." starting and ending with a letter or digit';
  return undefined;
}

/**
 * APP_LABELS, parsed: a comma list of CF label keys. Throws an Error whose message says which
 * key is refused and why (the caller names the setting): a key CF would not accept, a target
 * label name that is reserved (job, instance, org, space, "__...") or that two keys share.
 */
export function parseAppLabels(setting: string): AppLabelMapping[] {
  const keys = setting.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (keys.length > MAX_APP_LABELS) throw new Error(`lists ${keys.length} keys; at most ${MAX_APP_LABELS} are allowed`);
  const byName = new Map<string, string>();
  const out: AppLabelMapping[] = [];
  for (const key of keys) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) throw new Error(`${JSON.stringify(key.slice(0, 80))} is not a Cloud Foundry label key: it ${keyProblem}`);
    const name = targetLabelName(key);
    const nameProblem = extraLabelProblem(name);
    if (nameProblem) throw new Error(`${JSON.stringify(key)} cannot be copied: the target label ${nameProblem}`);
    const other = byName.get(name);
    if (other !== undefined) throw new Error(`${JSON.stringify(other)} and ${JSON.stringify(key)} would both become the target label "${name}"`);
    byName.set(name, key);
    out.push({ key, name });
  }
  return out;
}

/**
 * The target labels of an app's CF labels, for the keys APP_LABELS lists. A value the CC would
 * not have accepted (a broken or hostile answer) is left out; the app's other labels stay.
 */
export function appTargetLabels(labels: Record<string, string> | undefined, mappings: readonly AppLabelMapping[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!labels) return out;
  for (const { key, name } of mappings) {
    const value = labels[key];
    if (typeof value === 'string' && value !== '' && value.length <= MAX_LABEL_VALUE_LENGTH && LABEL_VALUE.test(value)) out[name] = value;
  }
  return out;
}

/** The annotations this service reads, all under the prefix Kubernetes users know. */
export const ANNOTATIONS = {
  scrape: 'prometheus.io/scrape',
  path: 'prometheus.io/path',
  scheme: 'prometheus.io/scheme',
  scrapeInterval: 'prometheus.io/scrape-interval',
  scrapeTimeout: 'prometheus.io/scrape-timeout',
} as const;
export type AnnotationName = (typeof ANNOTATIONS)[keyof typeof ANNOTATIONS];
export const ANNOTATION_NAMES: readonly string[] = Object.values(ANNOTATIONS);

/**
 * Longest annotation value kept from a CC answer: every valid value is shorter (paths 256,
 * durations 40), and a longer one is kept cut to this length so it still reads as invalid
 * while 10,000 apps with 5,000-character annotations do not fill the updater's memory.
 */
export const MAX_KEPT_ANNOTATION_LENGTH = 300;

/** An annotation whose value is ignored: which one and why (never the value: it may be anything). */
export interface IgnoredAnnotation {
  annotation: AnnotationName;
  problem: string;
}
