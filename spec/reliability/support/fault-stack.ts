/**
 * The whole system on real servers for fault tests: s3rver (which a test may halt or pause),
 * a fault proxy in front of it, the CC emulator over HTTP, and the broker's express app built
 * from configuration exactly as in production. Like spec/support/broker-harness.ts, but it keeps
 * hold of the S3 server, which the fault tests need to kill.
 */
import { Writable } from 'node:stream';
import supertest from 'supertest';
import { buildBroker } from '../../../cli/broker';
import { CloudControllerClient, CloudControllerClientOptions } from '../../../shared/cc';
import { loadConfig } from '../../../shared/config/load';
import { createLogger, Logger } from '../../../shared/logger';
import { AppMetrics } from '../../../shared/metrics';
import { S3Store } from '../../../shared/store';
import { Reconciler, ReconcilerOptions } from '../../../updater/reconciler';
import { BROKER_PASS, BROKER_USER, CF_PASS, CF_USER } from '../../support/broker-harness';
import { CcEmulator } from '../../../emulator';
import { asPlatform, bindBody, deleteQuery } from '../../support/osb-client';
import { S3Server, startS3Server, useS3rverCredentials } from '../../support/s3-server';
import { S3FaultProxy, startS3FaultProxy } from './s3-fault-proxy';

/** Every deployment object sits under this prefix, as with S3_PREFIX in production. */
export const PREFIX = 'faults/';

/** Log lines kept as parsed JSON, so a test can look for what an operator would read. */
export function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

export interface FaultStack {
  s3: S3Server;
  proxy: S3FaultProxy;
  cc: CcEmulator;
  /** The broker as CF talks to it (basic auth, API version header). */
  platform: ReturnType<typeof asPlatform>;
  catalog: { serviceId: string; planId: string };
  brokerLogs: Array<Record<string, unknown>>;
  brokerMetrics: AppMetrics;
  space: { guid: string };
  domain: { guid: string };
  /** A store straight on s3rver (never through the proxy), for setup and inspection. */
  direct: S3Store;
  /** Every object of the bucket, prefix included, key -> body. */
  bucketDump(): Promise<Record<string, string>>;
  storeVia(endpoint: string, requestTimeoutMs?: number): S3Store;
  ccClient(over?: Partial<CloudControllerClientOptions>): CloudControllerClient;
  reconciler(over?: Partial<ReconcilerOptions>): Reconciler;
  /** A started app with instances and a public route, in the test space. */
  addApp(name: string, instances?: number): { guid: string };
  bind(instanceId: string, bindingId: string, appGuid: string): supertest.Test;
  unbind(instanceId: string, bindingId: string): supertest.Test;
  stop(): Promise<void>;
}

export async function startFaultStack(): Promise<FaultStack> {
  const restoreEnv = useS3rverCredentials();
  const s3 = await startS3Server();
  const inspector = s3.client();
  const proxy = await startS3FaultProxy({ endpoint: s3.endpoint, bucket: s3.bucket, client: inspector });
  const cc = new CcEmulator();
  const ccUrl = await cc.start();
  cc.addUser(CF_USER, CF_PASS);
  const space = cc.addSpace(cc.addOrg('my-org').guid, 'prod');
  cc.grantSpaceRole(CF_USER, space.guid);
  const domain = cc.addDomain('apps.example.com');

  const config = loadConfig(
    {
      BROKER_USERNAME: BROKER_USER,
      BROKER_PASSWORD: BROKER_PASS,
      CF_API_URL: ccUrl,
      CF_USERNAME: CF_USER,
      CF_PASSWORD: CF_PASS,
      LOG_LEVEL: 'debug',
      STORE: 's3',
      S3_BUCKET: s3.bucket,
      S3_ENDPOINT: proxy.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      S3_PREFIX: PREFIX,
    },
    { brokerCredentials: true, cloudController: true },
  );
  const brokerLog = captureLogger();
  const brokerMetrics = new AppMetrics();
  const { app } = buildBroker(config, brokerLog.logger, brokerMetrics);
  const catalog = { serviceId: config.catalog.serviceId, planId: config.catalog.planId };
  const platform = asPlatform(supertest.agent(app));

  const storeVia = (endpoint: string, requestTimeoutMs = 2000) =>
    new S3Store({
      bucket: s3.bucket,
      prefix: PREFIX,
      endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      requestTimeoutMs,
    });
  const whole = new S3Store({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    requestTimeoutMs: 5000,
  });
  const ccClient = (over: Partial<CloudControllerClientOptions> = {}) =>
    new CloudControllerClient({
      apiUrl: ccUrl,
      auth: { kind: 'password', username: CF_USER, password: CF_PASS },
      timeoutMs: 1000,
      retries: 0,
      maxRetryAfterMs: 2000,
      ...over,
    });

  return {
    s3,
    proxy,
    cc,
    platform,
    catalog,
    space,
    domain,
    brokerLogs: brokerLog.lines,
    brokerMetrics,
    direct: storeVia(s3.endpoint, 5000),
    async bucketDump() {
      const out: Record<string, string> = {};
      for (const o of await whole.list('')) out[o.key] = (await whole.get(o.key))!.body;
      return out;
    },
    storeVia,
    ccClient,
    reconciler: (over = {}) =>
      new Reconciler({
        store: storeVia(s3.endpoint),
        cc: ccClient(),
        logger: captureLogger().logger,
        leftoverGraceMs: 0,
        ...over,
      }),
    addApp(name, instances = 2) {
      const a = cc.addApp({ name, spaceGuid: space.guid, instances });
      cc.mapRoute(cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, a.guid);
      return a;
    },
    bind: (instanceId, bindingId, appGuid) =>
      platform.put(`/v2/service_instances/${instanceId}/service_bindings/${bindingId}`, bindBody(catalog, appGuid)),
    unbind: (instanceId, bindingId) =>
      platform.delete(`/v2/service_instances/${instanceId}/service_bindings/${bindingId}?${deleteQuery(catalog)}`),
    async stop() {
      await proxy.stop();
      await cc.stop();
      await s3.stop();
      restoreEnv();
    },
  };
}
