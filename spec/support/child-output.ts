import type { ChildProcess } from 'node:child_process';

interface Kept {
  name: string;
  text: string;
}

/**
 * Keeps what the child processes of a suite print, and shows it when a test of the suite fails:
 * a spawned CLI that dies or hangs explains itself in the failure, not in a rerun. Call it in a
 * `describe`; it registers the `afterEach` that prints and forgets.
 */
export function keepChildOutput(): {
  track: <C extends ChildProcess>(name: string, child: C) => C;
  output: (child: ChildProcess) => string;
} {
  const kept = new Map<ChildProcess, Kept>();
  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      for (const { name, text } of kept.values())
        process.stderr.write(`\n--- output of ${name} ---\n${text || '(nothing)'}\n--- end of ${name} ---\n`);
    }
    kept.clear();
  });
  return {
    /** Records stdout and stderr (both must be pipes), interleaved as they arrive. */
    track(name, child) {
      const entry: Kept = { name, text: '' };
      kept.set(child, entry);
      child.stdout?.on('data', (d: Buffer) => {
        entry.text += d.toString();
      });
      child.stderr?.on('data', (d: Buffer) => {
        entry.text += d.toString();
      });
      child.once('exit', (code, signal) => {
        entry.text += `[exited with ${signal ?? `code ${code}`}]\n`;
      });
      return child;
    },
    output(child) {
      return kept.get(child)?.text ?? '';
    },
  };
}
