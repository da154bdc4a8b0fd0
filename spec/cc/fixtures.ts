import { CloudControllerClient, CloudControllerClientOptions } from '../../shared/cc';
import { CcEmulator, LoggedRequest } from '../../emulator';

/** The broker's CF user in these tests; the password must never show up in errors or logs. */
export const READER = 'discovery-reader';
export const READER_PASSWORD = 'Reader-Pw-7f3e-never-print';
export const CLIENT_ID = 'discovery-client';
export const CLIENT_SECRET = 'client-secret-9a1c-never-print';

export interface Platform {
  orgGuid: string;
  spaceGuid: string;
  domainGuid: string;
  /** Guids of the seeded apps, in creation order. */
  apps: string[];
}

/** One org and space the reader can see, a public domain, and `count` started apps with one route each. */
export function seedPlatform(
  cc: CcEmulator,
  count: number,
  opts: { instances?: number; namePrefix?: string } = {},
): Platform {
  const org = cc.addOrg('org-a');
  const space = cc.addSpace(org.guid, 'space-a');
  cc.grantSpaceRole(READER, space.guid);
  const domain = cc.addDomain('apps.example.com');
  const apps: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${opts.namePrefix ?? 'app'}-${i}`;
    const app = cc.addApp({ name, spaceGuid: space.guid, instances: opts.instances ?? 2 });
    cc.mapRoute(cc.addRoute({ host: name, domainGuid: domain.guid, spaceGuid: space.guid }).guid, app.guid);
    apps.push(app.guid);
  }
  return { orgGuid: org.guid, spaceGuid: space.guid, domainGuid: domain.guid, apps };
}

/** An emulator with the reader user and a client registered; stop it in after(). */
export async function startEmulator(opts: ConstructorParameters<typeof CcEmulator>[0] = {}): Promise<CcEmulator> {
  const cc = new CcEmulator(opts);
  await cc.start();
  cc.addUser(READER, READER_PASSWORD);
  cc.addClient(CLIENT_ID, CLIENT_SECRET);
  return cc;
}

/** A client for the reader through UAA discovery, with short timeouts and retries for fast tests. */
export function readerClient(cc: CcEmulator, over: Partial<CloudControllerClientOptions> = {}): CloudControllerClient {
  return new CloudControllerClient({
    apiUrl: cc.url,
    auth: { kind: 'password', username: READER, password: READER_PASSWORD },
    timeoutMs: 2_000,
    retries: 2,
    maxRetryAfterMs: 5_000,
    ...over,
  });
}

/** Requests the emulator saw on a path matching `pattern`. */
export function seen(cc: CcEmulator, pattern: RegExp): LoggedRequest[] {
  return cc.requests.filter((r) => pattern.test(r.path));
}

/** Runs `work` and returns how long it took in ms, whether it resolved or threw. */
export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await work();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

/** The error `work` rejects with; fails the test if it resolves. */
export async function rejection(work: Promise<unknown>): Promise<Error> {
  try {
    await work;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection, but the call succeeded');
}
