/**
 * What the broker process costs while it is under load, read from outside it as an operator
 * would: RSS from /proc/<pid>/status, CPU from /proc/<pid>/stat, the V8 heap from its own
 * /metrics (basic auth). Linux only: elsewhere RSS and CPU are undefined.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

export interface MemorySample {
  /** ms since the monitor started */
  atMs: number;
  phase: string;
  rssMib?: number;
  heapUsedMib?: number;
}

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** VmRSS of a process, MiB. */
export function rssMibOf(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line ? mib(Number(line.split(/\s+/)[1]) * 1024) : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU of a process so far, ms (fields 14 and 15 of /proc/<pid>/stat, in 1/100 s). */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; everything after its closing parenthesis splits cleanly.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** The broker's own view of its heap, from prom-client's default metrics (names carry a prefix). */
function scrapeHeapMib(port: number, auth: string, agent: Agent): Promise<number | undefined> {
  return new Promise((done) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/metrics', agent, headers: { Authorization: auth }, timeout: 2000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const line = text.split('\n').find((l) => /^\S*nodejs_heap_size_used_bytes /.test(l));
          done(line ? mib(Number(line.split(' ')[1])) : undefined);
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => done(undefined));
    req.end();
  });
}

/** Samples the broker's RSS and heap once a second, each sample tagged with the phase it fell in. */
export class BrokerMonitor {
  readonly samples: MemorySample[] = [];
  private phase = 'setup';
  private readonly started = performance.now();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;

  constructor(
    private readonly pid: number,
    private readonly port: number,
    private readonly auth: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      // A slow scrape under load must not pile up behind itself.
      if (!this.inFlight)
        this.inFlight = this.sample()
          .then(
            () => undefined,
            () => undefined,
          )
          .finally(() => (this.inFlight = undefined));
    }, 1000);
  }

  /** Takes a sample now (phase boundaries), besides the periodic ones. */
  async sample(): Promise<MemorySample> {
    const phase = this.phase;
    const atMs = Math.round(performance.now() - this.started);
    const rssMib = rssMibOf(this.pid);
    const heapUsedMib = await scrapeHeapMib(this.port, this.auth, this.agent);
    const s = { atMs, phase, rssMib, heapUsedMib };
    this.samples.push(s);
    return s;
  }

  enter(phase: string): void {
    this.phase = phase;
  }

  cpuMs(): number | undefined {
    return cpuMsOf(this.pid);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.inFlight;
    this.agent.destroy();
  }
}

/** Least-squares slope of RSS over time, MiB per minute; undefined with fewer than 3 samples. */
export function rssSlopeMibPerMin(samples: MemorySample[]): number | undefined {
  const points = samples.filter((s) => s.rssMib !== undefined).map((s) => ({ x: s.atMs / 60_000, y: s.rssMib! }));
  if (points.length < 3) return undefined;
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  const num = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}
