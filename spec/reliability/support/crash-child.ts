import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** Where the child will die; see spec/support/crashing-process.ts for the meaning of each field. */
export interface CrashAt {
  op: 'put' | 'delete';
  keyPrefix: string;
  count?: number;
  when?: 'after' | 'before';
  /** Puts to keys with this prefix never reach the store (orders writes started in parallel). */
  holdPutPrefix?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CrashChild {
  readonly process: ChildProcess;
  /** Resolves with the first stdout line starting with `word `, minus that word; rejects if it exits first. */
  line(word: 'READY' | 'SUMMARY'): Promise<string>;
  readonly exited: Promise<Exit>;
  /** What it logged, for assertion messages. */
  stderr(): string;
  kill(): Promise<void>;
}

const CHILD_SCRIPT = join(__dirname, '..', '..', 'support', 'crashing-process.js');

// mocha runs with --exit, which skips after-hooks of an aborted run: kill what is left on exit.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

function crashEnv(at: CrashAt | undefined): Record<string, string> {
  if (!at) return {};
  const env: Record<string, string> = {
    CRASH_OP: at.op,
    CRASH_KEY_PREFIX: at.keyPrefix,
    CRASH_COUNT: String(at.count ?? 1),
    CRASH_WHEN: at.when ?? 'after',
  };
  if (at.holdPutPrefix) env.HOLD_PUT_KEY_PREFIX = at.holdPutPrefix;
  return env;
}

/** Starts the real broker or updater in a child process, optionally with a crash point. */
export function spawnCrashChild(role: 'broker' | 'updater', env: Record<string, string>, at?: CrashAt): CrashChild {
  const child = spawn(process.execPath, ['--enable-source-maps', CHILD_SCRIPT, role], {
    // Only what the configuration needs: nothing of the test process's own settings leaks in.
    env: {
      PATH: process.env.PATH ?? '',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
      ...crashEnv(at),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString();
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  const line = (word: string) =>
    new Promise<string>((resolve, reject) => {
      const look = () => {
        const found = out.split('\n').find((l) => l.startsWith(`${word} `));
        if (found === undefined) return false;
        resolve(found.slice(word.length + 1));
        return true;
      };
      if (look()) return;
      const onData = () => {
        if (look()) child.stdout!.off('data', onData);
      };
      child.stdout!.on('data', onData);
      // 'close' comes after the last stdout data, so a line printed just before exiting is seen.
      child.once('close', (code, signal) => {
        if (!look())
          reject(
            new Error(`${role} child exited (${signal ?? `code ${code}`}) before printing ${word}:\n${err.trim()}`),
          );
      });
    });
  return {
    process: child,
    line,
    exited,
    stderr: () => err,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
