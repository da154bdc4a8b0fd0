import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import supertest from 'supertest';
import { buildBroker, BrokerTuning } from '../../cli/broker';
import { Config, loadConfig } from '../../shared/config/load';
import { createLogger } from '../../shared/logger';
import type { Store } from '../../shared/store/store';
import { CcEmulator } from '../../emulator';
import { startS3Server } from './s3-server';

export const BROKER_USER = 'cf-broker';
export const BROKER_PASS = 'correct horse battery staple';
export const CF_USER = 'prometheus-broker';
export const CF_PASS = 'cf-user-secret-pw';

export type StoreKind = 'fs' | 's3';

/** Everything a broker test needs: the app over supertest, a live CC emulator, the store, the logs. */
export interface BrokerHarness {
  http: supertest.Agent;
  /** The express app, for tests that need a real listening port. */
  app: ReturnType<typeof buildBroker>['app'];
  /** The broker's reconciler (POST /update-targets). */
  reconciler: ReturnType<typeof buildBroker>['reconciler'];
  metrics: ReturnType<typeof buildBroker>['metrics'];
  cc: CcEmulator;
  store: Store;
  logs: string[];
  catalog: { serviceId: string; planId: string };
  /** Every object in the store, key -> body: compare before/after to prove "changed nothing". */
  dump(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/** `tuning` and `config` override what the broker would read from its environment (e.g. short deadlines). */
export async function startBrokerHarness(
  kind: StoreKind,
  opts: { tuning?: BrokerTuning; config?: Partial<Config> } = {},
): Promise<BrokerHarness> {
  const cc = new CcEmulator();
  const ccUrl = await cc.start();
  cc.addUser(CF_USER, CF_PASS);
  const env: Record<string, string> = {
    BROKER_USERNAME: BROKER_USER,
    BROKER_PASSWORD: BROKER_PASS,
    CF_API_URL: ccUrl,
    CF_USERNAME: CF_USER,
    CF_PASSWORD: CF_PASS,
    LOG_LEVEL: 'debug',
  };
  const cleanups: Array<() => Promise<void>> = [() => cc.stop()];
  if (kind === 'fs') {
    const dir = await mkdtemp(join(tmpdir(), 'broker-fs-'));
    env.STORE = 'fs';
    env.STORE_DIR = dir;
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
  } else {
    const s3 = await startS3Server();
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    Object.assign(env, {
      STORE: 's3',
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      S3_PREFIX: 'broker-test/',
    });
    cleanups.push(() => s3.stop());
  }
  const config = { ...loadConfig(env, { brokerCredentials: true, cloudController: true }), ...opts.config };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const { app, store, reconciler, metrics } = buildBroker(config, createLogger('debug', sink), undefined, opts.tuning);
  return {
    app,
    reconciler,
    metrics,
    http: supertest.agent(app),
    cc,
    store,
    logs,
    catalog: { serviceId: config.catalog.serviceId, planId: config.catalog.planId },
    async dump() {
      const out: Record<string, string> = {};
      for (const o of await store.list('')) out[o.key] = (await store.get(o.key))!.body;
      return out;
    },
    async stop() {
      for (const c of cleanups.reverse()) await c();
    },
  };
}
