import { ChildProcess, spawn } from 'node:child_process';
import { createInterface, Interface } from 'node:readline';

/** Starts a node script, resolves with the first stdout line that `accept` recognises (and the line reader, for later ones). */
export async function startNode(
  script: string,
  env: Record<string, string>,
  accept: (line: string) => boolean,
  args: string[] = [],
  nodeArgs: string[] = [],
): Promise<{ child: ChildProcess; line: string; lines: Interface }> {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start in 60 s`)), 60_000);
    lines.on('line', (l) => {
      if (accept(l)) {
        clearTimeout(timer);
        resolve(l);
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, line, lines };
}

export async function stopNode(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin?.end();
  child.kill(signal);
  await exited;
}
