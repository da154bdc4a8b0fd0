import { randomBytes } from 'node:crypto';
import { TokenProvider } from '../shared/cc';
import { CloudControllerClient } from '../shared/cc/client';
import { cfAuthFromCredentials } from '../shared/cc/from-config';
import { Config, ConfigError, loadConfig } from '../shared/config/load';
import { createStore } from '../shared/store';
import type { Store } from '../shared/store/store';
import { ccChecks } from '../doctor/cc-checks';
import { discoveryJobs, PromTargetState, prometheusVerdict } from '../doctor/prometheus';
import { reconcileVerdict } from '../doctor/reconcile';
import {
  CheckResult,
  DoctorReport,
  exitCode,
  renderJson,
  renderText,
  report,
  result,
  shownUrl,
  withDeadline,
} from '../doctor/report';
import { probeDirectory, sidecarDirVerdict, sidecarFiles, sidecarInStepVerdict } from '../doctor/sidecar-dir';
import {
  consistencyVerdict,
  markerVerdict,
  ProbeOutcome,
  storeReadableVerdict,
  storeWritableVerdict,
} from '../doctor/store';
import { readStoreView, StoreView } from '../doctor/store-view';
import type { FlagValues } from './args';

export interface DoctorOptions {
  dir?: string;
  prometheusUrl?: string;
  updaterMetricsUrl?: string;
  /** Deadline of each network call (CC, UAA, metrics, Prometheus). */
  requestTimeoutMs?: number;
  /** Deadline of each store step (a listing with its reads, the probe). */
  stepTimeoutMs?: number;
}

/** A leftover file older than this is reported as failing: the updater removes them after two minutes. */
const LEFTOVER_FAIL_MS = 30 * 60_000;

async function getText(url: string, timeoutMs: number, auth?: { username: string; password: string }) {
  const headers: Record<string, string> = {};
  if (auth) headers.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    const why =
      (err as Error).name === 'TimeoutError'
        ? `no answer within ${timeoutMs / 1000} s`
        : (cause ?? (err as Error).message);
    throw new Error(why, { cause: err });
  }
  const text = await res.text();
  if (!res.ok)
    throw new Error(`status ${res.status}${res.status === 401 ? ' (check METRICS_USERNAME/METRICS_PASSWORD)' : ''}`);
  return text;
}

function settingsSummary(c: Config): string {
  const store =
    c.store.store === 's3' ? `STORE=s3 S3_BUCKET=${c.store.s3Bucket}` : `STORE=fs STORE_DIR=${c.store.storeDir}`;
  const cf = c.cf
    ? `CF_API_URL=${shownUrl(c.cf.apiUrl)} as ${c.cf.credentials.kind === 'password' ? 'user' : 'client'} ${c.cf.credentials.principal}`
    : 'no CF_API_URL';
  return `${store}, ${cf}, EVENT_POLL_SECONDS=${c.eventPollMs / 1000}`;
}

async function storeChecks(store: Store, config: Config, stepMs: number) {
  let view: StoreView | undefined;
  let error: Error | undefined;
  try {
    view = await withDeadline(readStoreView(store), stepMs, 'listing the store');
  } catch (err) {
    error = err as Error;
  }
  const checks = [storeReadableVerdict(config.store, view, error)];
  if (!view) return { checks, view };
  const key = `doctor/probe-${randomBytes(6).toString('hex')}.json`;
  const body = JSON.stringify({ doctor: new Date().toISOString() }) + '\n';
  const at: { stage: 'write' | 'read back' | 'remove' } = { stage: 'write' };
  let probe: ProbeOutcome;
  try {
    await withDeadline(
      (async () => {
        await store.put(key, body);
        at.stage = 'read back';
        const back = await store.get(key);
        if (back?.body !== body) throw new Error(back ? 'a different body came back' : 'it was not there');
        at.stage = 'remove';
        await store.delete(key);
      })(),
      stepMs,
      `the ${key} round trip`,
    );
    probe = { ok: true };
  } catch (err) {
    probe = { ok: false, stage: at.stage, error: err as Error };
    if (at.stage === 'read back') await store.delete(key).catch(() => undefined);
  }
  checks.push(storeWritableVerdict(config.store, key, probe));
  return { checks, view };
}

async function prometheusChecks(url: string, dir: string | undefined, timeoutMs: number): Promise<CheckResult> {
  const base = url.replace(/\/+$/, '');
  try {
    const config = JSON.parse(await getText(`${base}/api/v1/status/config`, timeoutMs)) as {
      data?: { yaml?: unknown };
    };
    const targets = JSON.parse(await getText(`${base}/api/v1/targets?state=active`, timeoutMs)) as {
      data?: { activeTargets?: PromTargetState[] };
    };
    const yaml = typeof config.data?.yaml === 'string' ? config.data.yaml : '';
    return prometheusVerdict(
      shownUrl(url),
      { jobs: discoveryJobs(yaml), targets: targets.data?.activeTargets ?? [] },
      dir,
    );
  } catch (err) {
    return prometheusVerdict(shownUrl(url), { error: err as Error }, dir);
  }
}

/** Every check, in the order an operator reads them; read-only except the temporary store key. */
export async function runDoctor(
  env: Record<string, string | undefined>,
  opts: DoctorOptions = {},
): Promise<DoctorReport> {
  const requestMs = opts.requestTimeoutMs ?? 5_000;
  const stepMs = opts.stepTimeoutMs ?? 20_000;
  let config: Config;
  try {
    config = loadConfig(env, {});
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return report([
      result(
        'settings valid',
        'fail',
        err.message,
        'fix that setting (cf-app-discovery doctor --help lists them); nothing else was checked',
      ),
    ]);
  }
  const checks: CheckResult[] = [result('settings valid', 'ok', settingsSummary(config))];
  const store = createStore(config.store);
  const stored = await storeChecks(store, config, stepMs);

  let appStates: Map<string, string> | undefined;
  if (config.cf) {
    const auth = cfAuthFromCredentials(config.cf.credentials);
    const common = { apiUrl: config.cf.apiUrl, uaaUrl: config.cf.uaaUrl, auth, timeoutMs: requestMs };
    const cc = await ccChecks(
      {
        apiUrl: config.cf.apiUrl,
        credentials: config.cf.credentials,
        client: new CloudControllerClient({ ...common, retries: 0, maxRetryAfterMs: 0 }),
        tokens: new TokenProvider(common),
        timeoutMs: requestMs,
      },
      stored.view,
      config.eventPollMs > 0,
    );
    checks.push(...cc.checks);
    appStates = cc.appStates;
  } else {
    checks.push(
      result(
        'cloud controller reachable',
        'warn',
        'not checked: CF_API_URL is not set',
        'set CF_API_URL and CF_USERNAME/CF_PASSWORD (or CF_CLIENT_ID/CF_CLIENT_SECRET) as for the broker and updater; on a Prometheus host without them this is expected',
      ),
    );
  }
  checks.push(...stored.checks);
  const now = Date.now();
  if (stored.view) {
    checks.push(markerVerdict(stored.view, config.sidecar.fullListIntervalMs / 1000, now));
    checks.push(consistencyVerdict(stored.view, { states: appStates }, now, LEFTOVER_FAIL_MS));
  }
  if (opts.updaterMetricsUrl) {
    const metricsUrl = shownUrl(opts.updaterMetricsUrl);
    try {
      const text = await getText(opts.updaterMetricsUrl, requestMs, config.metricsAuth);
      checks.push(reconcileVerdict({ metricsUrl, text }, stored.view, Date.now()));
    } catch (err) {
      checks.push(reconcileVerdict({ metricsUrl, error: err as Error }, stored.view, Date.now()));
    }
  } else checks.push(reconcileVerdict(undefined, stored.view, now));

  if (opts.dir !== undefined) {
    const problem = await withDeadline(probeDirectory(opts.dir), stepMs, 'writing in the directory').catch(
      (e: Error) => e,
    );
    checks.push(sidecarDirVerdict(opts.dir, problem));
    if (!problem && stored.view) {
      const local = await withDeadline(sidecarFiles(opts.dir), stepMs, 'reading the directory');
      checks.push(sidecarInStepVerdict(opts.dir, local, stored.view.active, config.sidecar.intervalMs / 1000));
    }
  }
  if (opts.prometheusUrl) checks.push(await prometheusChecks(opts.prometheusUrl, opts.dir, requestMs));
  return report(checks);
}

/** `cf-app-discovery doctor [--json] [--dir DIR] [--prometheus-url URL] [--updater-metrics-url URL]` */
export async function runDoctorCommand(flags: FlagValues): Promise<number> {
  const r = await runDoctor(process.env, {
    dir: flags.dir as string | undefined,
    prometheusUrl: flags['prometheus-url'] as string | undefined,
    updaterMetricsUrl: flags['updater-metrics-url'] as string | undefined,
  });
  process.stdout.write(flags.json ? renderJson(r) : renderText(r));
  return exitCode(r);
}
