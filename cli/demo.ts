import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_PASSWORD, DEMO_USER, startDemoPlatform } from '../demo/platform';
import { runDemo } from '../demo/run';
import { loadConfig } from '../shared/config/load';
import { createLogger } from '../shared/logger';
import { runAllInOne } from './all';

const DEMO_DASHBOARD_URL = 'https://grafana.example.com/d/cf-apps?var-org={org}&var-space={space}';

/** A pair made for this run: `--keep` leaves the broker listening, and a fixed password would be a known one. */
const freshPair = (username: string) => ({ username, password: randomBytes(18).toString('base64url') });

/**
 * `demo`: the emulated platform (demo/platform.ts), the all-in-one of `all` on a temporary fs
 * store, its settings made here rather than read from the environment (only PORT with --keep,
 * DASHBOARD_URL, LOG_LEVEL, APP_LABELS and the scrape bounds), then the demo's script (demo/run.ts). Everything it started is stopped and the
 * temporary directory removed at the end, whatever the outcome.
 */
export async function runDemoCommand(keep: boolean): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'cf-app-discovery-demo-'));
  const storeDir = join(work, 'store');
  const targetsDir = join(work, 'targets');
  const broker = freshPair('demo');
  const targets = freshPair('prometheus');
  const platform = await startDemoPlatform();
  const config = loadConfig(
    {
      PORT: keep ? (process.env.PORT ?? '8080') : '0',
      HOST: '127.0.0.1',
      BROKER_USERNAME: broker.username,
      BROKER_PASSWORD: broker.password,
      TARGETS_USERNAME: targets.username,
      TARGETS_PASSWORD: targets.password,
      CF_API_URL: platform.url,
      CF_USERNAME: DEMO_USER,
      CF_PASSWORD: DEMO_PASSWORD,
      STORE: 'fs',
      STORE_DIR: storeDir,
      SYNC_INTERVAL_SECONDS: '1',
      // The follower on a short poll, so the demo does not wait the default 10 s per step.
      EVENT_POLL_SECONDS: '1',
      UPDATE_SCHEDULE: '*/5 * * * *',
      // The link app teams get in `cf service`; an example unless the operator's own is set.
      DASHBOARD_URL: process.env.DASHBOARD_URL ?? DEMO_DASHBOARD_URL,
      // What the targets look like is the operator's to try: these are read as the other commands do.
      APP_LABELS: process.env.APP_LABELS,
      SCRAPE_INTERVAL_MIN_SECONDS: process.env.SCRAPE_INTERVAL_MIN_SECONDS,
      SCRAPE_INTERVAL_MAX_SECONDS: process.env.SCRAPE_INTERVAL_MAX_SECONDS,
    },
    { brokerCredentials: true, cloudController: true },
  );
  const all = await runAllInOne(config, targetsDir, createLogger(process.env.LOG_LEVEL ?? 'warn'), 0);
  try {
    const brokerUrl = `http://127.0.0.1:${all.port}`;
    return await runDemo({ platform, brokerUrl, broker, targets, storeDir, targetsDir }, keep);
  } finally {
    await all.stop();
    await platform.cc.stop();
    await rm(work, { recursive: true, force: true });
  }
}
