import { resolve } from 'node:path';
import type { AppChange } from './cc-emulator-process';
import { startNode, stopNode } from './processes';

export interface Platform {
  url: string;
  /** The apps a benchmark may bind, in creation order. */
  apps: string[];
  /** Every app the bench user can see (bound candidates and the others). */
  visible: number;
  orgs: number;
  spaces: number;
  domains: number;
}

export interface EmulatorAnswer {
  op: string;
  v3: number;
  uaa?: number;
  cpuMs?: number;
  changed?: number;
  error?: string;
  /** change: when the emulator made it (Date.now()); the new route's host of a reroute. */
  at?: number;
  host?: string;
  log?: Array<{ path: string; query: string; at: number }>;
}

export interface EmulatorOptions {
  apps: number;
  extraApps?: number;
  orgs?: number;
  spacesPerOrg?: number;
  latencyMs?: number;
}

/** The CC emulator in its own process (cc-emulator-process.ts), and its stdin/stdout command channel. */
export class EmulatorProcess {
  private readonly waiting: Array<(answer: EmulatorAnswer) => void> = [];

  private constructor(
    readonly platform: Platform,
    private readonly proc: Awaited<ReturnType<typeof startNode>>,
  ) {
    proc.lines.on('line', (line) => {
      if (!line.startsWith('{"op"')) return;
      this.waiting.shift()?.(JSON.parse(line) as EmulatorAnswer);
    });
  }

  static async start(o: EmulatorOptions): Promise<EmulatorProcess> {
    const env = {
      BENCH_APPS: String(o.apps),
      BENCH_EXTRA_APPS: String(o.extraApps ?? 0),
      BENCH_ORGS: String(o.orgs ?? 1),
      BENCH_SPACES_PER_ORG: String(o.spacesPerOrg ?? 1),
      BENCH_LATENCY_MS: String(o.latencyMs ?? 20),
    };
    const proc = await startNode(resolve(__dirname, 'cc-emulator-process.js'), env, (l) => l.startsWith('{"url"'));
    return new EmulatorProcess(JSON.parse(proc.line) as Platform, proc);
  }

  /** Answers arrive in the order commands were sent: the emulator handles stdin lines one by one. */
  command(
    cmd: { op: 'count' | 'reset' } | { op: 'mutate'; fraction: number } | ({ op: 'change' } & AppChange),
  ): Promise<EmulatorAnswer> {
    return new Promise((done, fail) => {
      this.waiting.push((answer) => (answer.error ? fail(new Error(answer.error)) : done(answer)));
      this.proc.child.stdin!.write(JSON.stringify(cmd) + '\n');
    });
  }

  /** CC (/v3) requests served and the emulator's CPU time, so far. */
  async counters(): Promise<{ v3: number; cpuMs: number }> {
    const a = await this.command({ op: 'count' });
    return { v3: a.v3, cpuMs: a.cpuMs ?? 0 };
  }

  /** The request log from entry `from` on (entries since the last reset). */
  async requests(from = 0): Promise<NonNullable<EmulatorAnswer['log']>> {
    return new Promise((done, fail) => {
      this.waiting.push((a) => (a.error ? fail(new Error(a.error)) : done(a.log ?? [])));
      this.proc.child.stdin!.write(JSON.stringify({ op: 'requests', from }) + '\n');
    });
  }

  stop(): Promise<void> {
    return stopNode(this.proc.child);
  }
}
