import type { TargetGroup } from './types';

/**
 * The exact bytes of a target file. Deterministic (label order is fixed by render.ts), so
 * the same targets always give the same bytes and the same ETag: "unchanged" is a string
 * comparison and steady state costs no writes.
 */
export function serializeTargetFile(groups: TargetGroup[]): string {
  return JSON.stringify(groups, null, 1) + '\n';
}
