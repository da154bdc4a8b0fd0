import { serializeTargetFile } from '../../shared/targets/file';
import type { TargetGroup } from '../../shared/targets/types';

/**
 * A target file as render.ts writes it (every label the target file schema requires), for
 * tests that put files into the store by hand.
 */
export function targetGroups(
  host: string,
  opts: { guid?: string; instances?: number; job?: string; extra?: Record<string, string> } = {},
): TargetGroup[] {
  const guid = opts.guid ?? 'g';
  return Array.from({ length: opts.instances ?? 1 }, (_, index) => ({
    targets: [host],
    labels: {
      job: opts.job ?? 'app',
      org: 'o',
      space: 's',
      instance: `${guid}:${index}`,
      __param_cf_app_guid: guid,
      __param_cf_app_instance_index: String(index),
      __param_cf_app_instance: `${guid}:${index}`,
      __metrics_path__: '/metrics',
      ...opts.extra,
    },
  }));
}

export function targetFile(host: string, opts: Parameters<typeof targetGroups>[1] = {}): string {
  return serializeTargetFile(targetGroups(host, opts));
}
