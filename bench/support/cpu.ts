import { readFileSync } from 'node:fs';

/**
 * CPU time of the whole machine (all cores) from /proc/stat, in ms; undefined off Linux. This
 * machine is shared (other people's test runs land on the same two cores), so each run reports
 * how much CPU everything other than the updater and the emulator took while it ran.
 */
export function machineBusyMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, , , irq, softirq, steal] = fields;
    return (user + nice + system + irq + softirq + steal) * 10; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** This process' CPU time (user + system) so far, ms. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
