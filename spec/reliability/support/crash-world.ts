import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import supertest from 'supertest';
import { buildBroker } from '../../../cli/broker';
import { CloudControllerClient } from '../../../shared/cc';
import { loadConfig } from '../../../shared/config/load';
import { silentLogger } from '../../../shared/logger';
import { createStore } from '../../../shared/store';
import type { Store } from '../../../shared/store/store';
import { Reconciler, ReconcilerOptions } from '../../../updater/reconciler';
import { BROKER_PASS, BROKER_USER, CF_PASS, CF_USER } from '../../support/broker-harness';
import { CcEmulator } from '../../../emulator';
import { asPlatform, bindBody, provisionBody } from '../../support/osb-client';
import { S3RVER_CREDENTIALS, startS3Server, useS3rverCredentials } from '../../support/s3-server';
import { CrashAt, CrashChild, spawnCrashChild } from './crash-child';

export type StoreKind = 'fs' | 's3';

export interface BoundApp {
  appGuid: string;
  bindingId: string;
}

/**
 * One platform for crash tests: a CC emulator and a store (fs dir or s3rver) in this process,
 * and the env that makes a child broker or updater use exactly them.
 */
export class CrashWorld {
  readonly cc = new CcEmulator();
  /** The store as a test (or a fresh process) sees it, for inspection and for fresh reconciles. */
  store!: Store;
  /** fs only: the directory behind the store, to look at what is on disk beyond the keys. */
  storeDir?: string;
  env: Record<string, string> = {};
  catalog!: { serviceId: string; planId: string };
  private spaceGuid = '';
  private domainGuid = '';
  private seeding?: ReturnType<typeof asPlatform>;
  private appCount = 0;
  private readonly children: CrashChild[] = [];
  private readonly cleanups: Array<() => Promise<void> | void> = [];

  static async start(kind: StoreKind): Promise<CrashWorld> {
    const w = new CrashWorld();
    try {
      await w.init(kind);
    } catch (err) {
      await w.stop();
      throw err;
    }
    return w;
  }

  private async init(kind: StoreKind): Promise<void> {
    const ccUrl = await this.cc.start();
    this.cleanups.push(() => this.cc.stop());
    this.cc.addUser(CF_USER, CF_PASS);
    const org = this.cc.addOrg('my-org');
    const space = this.cc.addSpace(org.guid, 'prod');
    this.cc.grantSpaceRole(CF_USER, space.guid);
    this.spaceGuid = space.guid;
    this.domainGuid = this.cc.addDomain('apps.example.com').guid;
    this.env = {
      BROKER_USERNAME: BROKER_USER,
      BROKER_PASSWORD: BROKER_PASS,
      CF_API_URL: ccUrl,
      CF_USERNAME: CF_USER,
      CF_PASSWORD: CF_PASS,
      PORT: '0',
      LOG_LEVEL: 'warn',
    };
    if (kind === 'fs') {
      const dir = await mkdtemp(join(tmpdir(), 'crash-fs-'));
      this.cleanups.push(() => rm(dir, { recursive: true, force: true }));
      this.storeDir = dir;
      Object.assign(this.env, { STORE: 'fs', STORE_DIR: dir });
    } else {
      const s3 = await startS3Server();
      this.cleanups.push(() => s3.stop());
      this.cleanups.push(useS3rverCredentials());
      Object.assign(this.env, {
        STORE: 's3',
        S3_BUCKET: s3.bucket,
        S3_ENDPOINT: s3.endpoint,
        S3_FORCE_PATH_STYLE: 'true',
        AWS_REGION: 'us-east-1',
        S3_PREFIX: 'crash/',
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      });
    }
    const config = loadConfig(this.env, { brokerCredentials: true, cloudController: true });
    this.store = createStore(config.store);
    this.catalog = { serviceId: config.catalog.serviceId, planId: config.catalog.planId };
    // Setup (provision, the 50 binds of the updater tests) goes through a well-behaved broker in
    // this process: quick, and the state is exactly what real binds leave behind.
    this.seeding = asPlatform(supertest.agent(buildBroker(config, silentLogger).app));
  }

  /** A started app with `instances` instances and one public route, not yet bound. */
  addApp(instances = 2): string {
    const name = `app-${++this.appCount}`;
    const app = this.cc.addApp({ name, spaceGuid: this.spaceGuid, instances });
    const route = this.cc.addRoute({ host: name, domainGuid: this.domainGuid, spaceGuid: this.spaceGuid });
    this.cc.mapRoute(route.guid, app.guid);
    return app.guid;
  }

  async provision(instanceId: string): Promise<void> {
    await this.seeding!.put(`/v2/service_instances/${instanceId}`, provisionBody(this.catalog)).expect(201);
  }

  /** `count` new apps, each bound (201, active) to the instance through the seeding broker. */
  async bindNewApps(instanceId: string, count: number, instances = 2): Promise<BoundApp[]> {
    const bound: BoundApp[] = [];
    for (let i = 0; i < count; i++) {
      const appGuid = this.addApp(instances);
      const bindingId = `binding-${this.appCount}`;
      const res = await this.seeding!.put(
        `/v2/service_instances/${instanceId}/service_bindings/${bindingId}`,
        bindBody(this.catalog, appGuid),
      ).expect(201);
      if (res.body.credentials?.status !== 'active')
        throw new Error(`seed bind ${bindingId} is not active: ${JSON.stringify(res.body)}`);
      bound.push({ appGuid, bindingId });
    }
    return bound;
  }

  spawn(role: 'broker' | 'updater', at?: CrashAt): CrashChild {
    const child = spawnCrashChild(role, this.env, at);
    this.children.push(child);
    return child;
  }

  /** A broker child listening, and a platform client (CF's view) talking to it over HTTP. */
  async spawnBroker(at?: CrashAt): Promise<{ child: CrashChild; platform: ReturnType<typeof asPlatform> }> {
    const child = this.spawn('broker', at);
    const port = Number(await child.line('READY'));
    return { child, platform: asPlatform(supertest.agent(`http://127.0.0.1:${port}`)) };
  }

  /** The next scheduled reconcile, as a fresh updater instance in this process. */
  reconciler(over: Partial<ReconcilerOptions> = {}): Reconciler {
    return new Reconciler({
      store: this.store,
      cc: new CloudControllerClient({
        apiUrl: this.cc.url,
        auth: { kind: 'password', username: CF_USER, password: CF_PASS },
        timeoutMs: 5000,
        retries: 1,
        maxRetryAfterMs: 2000,
      }),
      logger: silentLogger,
      ...over,
    });
  }

  /** Every object in the store, key -> body. */
  async dump(prefix = ''): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const o of await this.store.list(prefix)) {
      const got = await this.store.get(o.key);
      if (got) out[o.key] = got.body;
    }
    return out;
  }

  async killChildren(): Promise<void> {
    await Promise.all(this.children.splice(0).map((c) => c.kill()));
  }

  async stop(): Promise<void> {
    await this.killChildren();
    for (const c of this.cleanups.reverse()) await c();
  }
}
