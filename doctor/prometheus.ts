import { resolve } from 'node:path';
import { CheckResult, result } from './report';

/** A scrape job that discovers targets the way this service publishes them. */
export interface DiscoveryJob {
  job: string;
  kind: 'file_sd' | 'http_sd';
  /** file_sd: its `files` patterns; http_sd: its URLs. */
  sources: string[];
}

/**
 * The jobs of Prometheus' loaded configuration (the YAML of /api/v1/status/config, which
 * Prometheus renders in one normal form) that read file_sd files or an http_sd URL ending in
 * `/targets` (the broker's). Line-based on purpose: the product needs no YAML parser for this.
 */
export function discoveryJobs(yaml: string): DiscoveryJob[] {
  const jobs: DiscoveryJob[] = [];
  const blocks = yaml.split(/\n(?=\s*- job_name:)/);
  for (const block of blocks) {
    const name = /^\s*- job_name:\s*['"]?([^'"\s]+)/.exec(block)?.[1];
    if (!name) continue;
    const fileSd = /\bfile_sd_configs:/.exec(block);
    const httpSd = /\bhttp_sd_configs:/.exec(block);
    if (fileSd) {
      const after = block.slice(fileSd.index);
      const files = [...after.matchAll(/^\s*-\s+['"]?([^'"\s]+\.(?:json|ya?ml))['"]?\s*$/gm)].map((m) => m[1]);
      jobs.push({ job: name, kind: 'file_sd', sources: files });
    }
    if (httpSd) {
      const urls = [...block.slice(httpSd.index).matchAll(/\burl:\s*['"]?(\S+?)['"]?\s*$/gm)].map((m) => m[1]);
      const ours = urls.filter((u) => /\/targets\/?$/.test(u));
      if (ours.length) jobs.push({ job: name, kind: 'http_sd', sources: ours });
    }
  }
  return jobs;
}

/** file_sd jobs whose files lie in `dir` (when doctor runs with --dir), else every discovery job. */
export function jobsForTargets(jobs: DiscoveryJob[], dir: string | undefined): DiscoveryJob[] {
  if (dir === undefined) return jobs;
  const inDir = (pattern: string) => resolve(pattern).startsWith(resolve(dir) + '/');
  return jobs.filter((j) => j.kind === 'http_sd' || j.sources.some(inDir));
}

export interface PromTargetState {
  scrapePool: string;
  health: string;
  discoveredLabels?: Record<string, string>;
}

export function prometheusVerdict(
  url: string,
  answer: { jobs: DiscoveryJob[]; targets: PromTargetState[] } | { error: Error },
  dir: string | undefined,
): CheckResult {
  if ('error' in answer)
    return result(
      'prometheus job',
      'fail',
      `${url} could not be asked: ${answer.error.message}`,
      'check --prometheus-url (the Prometheus server, e.g. http://127.0.0.1:9090) and that it runs',
    );
  const jobs = jobsForTargets(answer.jobs, dir);
  if (jobs.length === 0)
    return result(
      'prometheus job',
      'fail',
      `Prometheus has no file_sd job${dir ? ` reading ${dir}` : ''} and no http_sd job on a broker's /targets`,
      `add the cf-apps job of deploy/prometheus/prometheus.yml${dir ? ` with file_sd_configs files: [${resolve(dir)}/*.json]` : ''} and reload Prometheus`,
    );
  const names = new Set(jobs.map((j) => j.job));
  // Our targets carry the app guid label from the target file; the job may relabel the rest.
  const ours = answer.targets.filter((t) => names.has(t.scrapePool) && t.discoveredLabels?.__param_cf_app_guid);
  const up = ours.filter((t) => t.health === 'up').length;
  const found = `job ${[...names].join(', ')} (${jobs.map((j) => j.kind).join(', ')}): ${up} of ${ours.length} targets up`;
  if (ours.length > 0 && up === 0)
    return result(
      'prometheus job',
      'warn',
      found,
      "no target answers: check the forward proxy (deploy/nginx) and the apps' /metrics (runbook, CfAppTargetDown)",
    );
  return result('prometheus job', 'ok', found);
}
