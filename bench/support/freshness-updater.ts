/**
 * The `updater` daemon as cli/updater.ts builds it (loadConfig from an env, the instrumented
 * store, UPDATER_CC_TUNING, buildReconciler, followAndSchedule with the defaults: EVENT_POLL_SECONDS
 * 10, the follower's default settle, UPDATE_SCHEDULE's five minutes), in this process, with two
 * additions a benchmark needs: a store that counts its calls, and the log lines it writes (the
 * run summaries: wall time, CC requests).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { followAndSchedule } from '../../cli/follow';
import { ccClientFromConfig } from '../../shared/cc/from-config';
import { loadConfig } from '../../shared/config/load';
import { createLogger } from '../../shared/logger';
import { AppMetrics } from '../../shared/metrics';
import { createStore } from '../../shared/store';
import { InstrumentedStore } from '../../shared/store/instrumented';
import { buildReconciler, UPDATER_CC_TUNING } from '../../updater/build';
import { CountingStore } from './counting-store';

export interface LogLine {
  msg: string;
  /** ISO time (shared/logger.ts). */
  time: string;
  [key: string]: unknown;
}

export interface BenchUpdater {
  store: CountingStore;
  logs: LogLine[];
  /** Resolves with the first log line from index `from` on that `match` accepts (polled, with a deadline). */
  logged(match: (l: LogLine) => boolean, from?: number, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<void>;
}

export function startUpdater(ccUrl: string, storeDir: string, extraEnv: Record<string, string> = {}): BenchUpdater {
  const config = loadConfig(
    {
      CF_API_URL: ccUrl,
      CF_USERNAME: 'bench',
      CF_PASSWORD: 'bench-pw',
      STORE: 'fs',
      STORE_DIR: storeDir,
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
    { cloudController: true },
  );
  const logs: LogLine[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk, _e, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line) as LogLine);
        done();
      },
    }),
  );
  const metrics = new AppMetrics();
  const store = new CountingStore(createStore(config.store));
  const cc = ccClientFromConfig(config, logger, { ...UPDATER_CC_TUNING, onRequest: metrics.onCcRequest });
  if (!cc) throw new Error('no CC client from the bench config');
  const reconciler = buildReconciler(
    new InstrumentedStore(store, metrics),
    cc,
    logger,
    metrics,
    config.reconcileTimeoutMs,
  );
  const daemon = followAndSchedule(config, reconciler, logger, metrics);
  return {
    store,
    logs,
    async logged(match, from = 0, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs.slice(from).find(match);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching updater log line in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    stop: () => daemon.stop(),
  };
}

/** The target file of a binding as the fs store holds it, or undefined when there is none. */
export async function readTargetFile(storeDir: string, bindingId: string): Promise<string | undefined> {
  try {
    return await readFile(join(storeDir, 'active', `${bindingId}.json`), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Polls a target file every 25 ms until `changed` accepts its content (undefined: no file);
 * resolves with Date.now() of the first read that showed it.
 */
export async function whenFileShows(
  storeDir: string,
  bindingId: string,
  changed: (content: string | undefined) => boolean,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const content = await readTargetFile(storeDir, bindingId);
    if (changed(content)) return Date.now();
    if (Date.now() > deadline) throw new Error(`target file ${bindingId} unchanged after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
