/**
 * Test-only child process: the real broker or the real updater, over a store that kills its
 * own process with SIGKILL at an exact point. Nothing gets a chance to clean up, just as when
 * the kernel's OOM killer or a `cf restart` hits the process.
 *
 *   node crashing-process.js broker    prints `READY <port>` on stdout, then serves until killed
 *   node crashing-process.js updater   runs one reconcile, prints `SUMMARY <json>`, exits 0
 *
 * The configuration comes from the environment as for the real commands (STORE, STORE_DIR,
 * CF_API_URL, ...). The crash point, all optional:
 *   CRASH_OP          put | delete                the store operation that is counted
 *   CRASH_KEY_PREFIX  e.g. active/                only operations on keys with this prefix count
 *   CRASH_COUNT       N (default 1)               the Nth such operation is the fatal one
 *   CRASH_WHEN        after | before (default after): die once it reached the store, or before it starts
 *   HOLD_PUT_KEY_PREFIX  e.g. markers/            puts to these keys never reach the store: the
 *                     way to order two writes the code under test starts in parallel
 */
import * as storeModule from '../../shared/store';
import { startBroker } from '../../cli/broker';
import { ccClientFromConfig } from '../../shared/cc/from-config';
import { loadConfig } from '../../shared/config/load';
import { createLogger } from '../../shared/logger';
import type { GetOptions, Store } from '../../shared/store/store';
import { buildReconciler, UPDATER_CC_TUNING } from '../../updater/build';

interface CrashPoint {
  op: 'put' | 'delete';
  keyPrefix: string;
  count: number;
  when: 'after' | 'before';
}

function crashPointFromEnv(env: NodeJS.ProcessEnv): CrashPoint | undefined {
  const op = env.CRASH_OP;
  if (op === undefined || op === '') return undefined;
  if (op !== 'put' && op !== 'delete') throw new Error(`CRASH_OP must be put or delete, got ${op}`);
  const when = env.CRASH_WHEN ?? 'after';
  if (when !== 'after' && when !== 'before') throw new Error(`CRASH_WHEN must be after or before, got ${when}`);
  const count = Number(env.CRASH_COUNT ?? '1');
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`CRASH_COUNT must be a positive integer, got ${env.CRASH_COUNT}`);
  return { op, keyPrefix: env.CRASH_KEY_PREFIX ?? '', count, when };
}

function die(): never {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL cannot be caught; this only keeps the type checker and a paranoid reader happy.
  throw new Error('SIGKILL did not kill the process');
}

/** The store with a trap: the chosen operation is the last thing this process ever does. */
class CrashingStore implements Store {
  private seen = 0;

  constructor(
    private readonly inner: Store,
    private readonly point: CrashPoint | undefined,
    private readonly holdPrefix: string | undefined,
  ) {}

  get description() {
    return this.inner.description;
  }

  get(key: string, options?: GetOptions) {
    return this.inner.get(key, options);
  }

  getIfChanged(key: string, etag: string, options?: GetOptions) {
    return this.inner.getIfChanged(key, etag, options);
  }

  list(prefix: string) {
    return this.inner.list(prefix);
  }

  async put(key: string, body: string): Promise<string> {
    if (this.holdPrefix && key.startsWith(this.holdPrefix)) return new Promise<string>(() => undefined);
    return this.trapped('put', key, () => this.inner.put(key, body));
  }

  async delete(key: string): Promise<void> {
    return this.trapped('delete', key, () => this.inner.delete(key));
  }

  private async trapped<T>(op: CrashPoint['op'], key: string, run: () => Promise<T>): Promise<T> {
    const p = this.point;
    if (!p || p.op !== op || !key.startsWith(p.keyPrefix)) return run();
    const n = ++this.seen;
    // Operations that start after the fatal one never reach the store: otherwise, while a slow
    // fatal operation runs, parallel ones could finish them all before the process dies.
    if (n > p.count) return new Promise<T>(() => undefined);
    const fatal = n === p.count;
    if (fatal && p.when === 'before') die();
    const result = await run();
    if (fatal) die();
    return result;
  }
}

async function main(): Promise<void> {
  // The test holds our stdin: when it goes away (even by SIGKILL), so do we.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  const role = process.argv[2];
  const point = crashPointFromEnv(process.env);
  const hold = process.env.HOLD_PUT_KEY_PREFIX || undefined;
  // Logs on stderr: stdout carries only the lines the test waits for.
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr);
  if (role === 'broker') {
    const config = loadConfig(process.env, { brokerCredentials: true, cloudController: true });
    // buildBroker makes its own store; swap the factory it calls so the real wiring stays intact.
    const realCreateStore = storeModule.createStore;
    (storeModule as { createStore: typeof realCreateStore }).createStore = (cfg) =>
      new CrashingStore(realCreateStore(cfg), point, hold);
    const { port } = await startBroker(config, logger);
    process.stdout.write(`READY ${port}\n`);
    return;
  }
  if (role === 'updater') {
    const config = loadConfig(process.env, { cloudController: true });
    const cc = ccClientFromConfig(config, logger, UPDATER_CC_TUNING)!;
    const store = new CrashingStore(storeModule.createStore(config.store), point, hold);
    const summary = await buildReconciler(store, cc, logger).run();
    process.stdout.write(`SUMMARY ${JSON.stringify(summary)}\n`, () => process.exit(0));
    return;
  }
  throw new Error(`usage: crashing-process.js broker|updater (got ${role})`);
}

main().catch((err: unknown) => {
  process.stderr.write(`crashing-process failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
