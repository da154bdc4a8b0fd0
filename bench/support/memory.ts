import { writeFileSync } from 'node:fs';

/**
 * Peak RSS per run. The kernel keeps a high-water mark (resourceUsage().maxRSS, VmHWM) that
 * catches spikes a JS timer cannot: one that lasts less than the sampling interval, or happens
 * inside synchronous work (parsing a 4 MB page) when no timer fires. Linux lets a process reset its own mark (`5` into
 * /proc/self/clear_refs), so each run gets its exact peak. Where that is refused, the mark
 * stays the process' lifetime peak, and `exact` says so.
 */
export class PeakRss {
  readonly exact: boolean;
  /** The highest peak seen over all measured stretches (and before the first): the process' real peak. */
  lifetimeMib: number;

  constructor() {
    this.lifetimeMib = maxRssMib();
    this.exact = reset();
  }

  /** Starts a stretch: the kernel's mark goes back to the current RSS. */
  start(): void {
    this.lifetimeMib = Math.max(this.lifetimeMib, maxRssMib());
    if (this.exact) reset();
  }

  /** The stretch's peak, MiB. */
  end(): number {
    const peak = maxRssMib();
    this.lifetimeMib = Math.max(this.lifetimeMib, peak);
    return peak;
  }
}

function reset(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** What the heap held at the highest RSS that a 50 ms sampler saw: V8's share of the peak. */
export interface MemoryAtPeak {
  rssMib: number;
  heapTotalMib: number;
  heapUsedMib: number;
  externalMib: number;
}

export class RssSampler {
  private peak = process.memoryUsage();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 50) {
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const now = process.memoryUsage();
    if (now.rss > this.peak.rss) this.peak = now;
  }

  stop(): MemoryAtPeak {
    clearInterval(this.timer);
    this.sample();
    const p = this.peak;
    return {
      rssMib: mib(p.rss),
      heapTotalMib: mib(p.heapTotal),
      heapUsedMib: mib(p.heapUsed),
      externalMib: mib(p.external),
    };
  }
}

export const mib = (bytes: number) => Math.round(bytes / 1024 / 1024);

/** The kernel's high-water mark, MiB (maxRSS is in KiB). */
export const maxRssMib = () => Math.round(process.resourceUsage().maxRSS / 1024);
