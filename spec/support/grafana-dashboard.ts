import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** deploy/grafana/cf-app-discovery.json, what operators import into Grafana. */
export const DASHBOARD_JSON = resolve(__dirname, '..', '..', '..', 'deploy', 'grafana', 'cf-app-discovery.json');

export interface DashboardTarget {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface TemplateVariable {
  type: string;
  name: string;
  query?: string;
  current?: { value?: string };
}

export interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  templating: { list: TemplateVariable[] };
  panels: DashboardPanel[];
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_JSON, 'utf8')) as Dashboard;
}

/** Every panel with its queries, rows' nested panels included. */
export function queryPanels(d: Dashboard): Array<DashboardPanel & { targets: DashboardTarget[] }> {
  const all = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return all.filter((p): p is DashboardPanel & { targets: DashboardTarget[] } => (p.targets?.length ?? 0) > 0);
}

/**
 * A panel query as Grafana sends it to Prometheus: the job variables replaced by their defaults
 * (the job names of deploy/prometheus/prometheus.yml) and Grafana's interval variables by fixed
 * windows.
 */
export function interpolate(d: Dashboard, expr: string, intervals: Record<string, string>): string {
  let out = expr;
  for (const [name, value] of Object.entries(intervals)) out = out.split(`$${name}`).join(value);
  for (const v of d.templating.list) {
    if (v.type === 'datasource') continue;
    const value = v.current?.value ?? v.query ?? '';
    out = out.split(`\${${v.name}}`).join(value).split(`$${v.name}`).join(value);
  }
  if (/\$/.test(out)) throw new Error(`a variable is left in ${out}`);
  return out;
}

/** The cf_app_discovery_* metric names a query reads. */
export function productMetricNames(expr: string): string[] {
  return [...new Set(expr.match(/\bcf_app_discovery_[a-zA-Z0-9_]+/g) ?? [])];
}

/** Metric names of a Prometheus text exposition (histograms as their _bucket, _sum and _count series). */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m) names.add(m[1]);
  }
  return names;
}
