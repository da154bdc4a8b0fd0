import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';

/**
 * A part of the process could not start (a port taken, a directory that cannot be used).
 * The message names the setting to change; the CLI prints it and exits non-zero at once.
 */
export class StartupError extends Error {
  constructor(
    readonly setting: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${setting}: ${message}`, options);
    this.name = 'StartupError';
  }
}

const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'is already in use by another process',
  EACCES: 'may not be used by this user (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'names an address this host does not have',
  ENOTFOUND: 'names a host that does not resolve',
};

/**
 * Listens and resolves with the bound port, or rejects with a StartupError naming `setting`.
 * (Express 5's app.listen hands a listen error to its callback as if it had worked, so every
 * server is created and listened on here.)
 */
export function listen(server: Server, port: number, host: string | undefined, setting: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const where = `${host ?? 'all interfaces'} port ${port}`;
      const problem = (err.code && LISTEN_PROBLEMS[err.code]) ?? `cannot be listened on (${err.message})`;
      reject(new StartupError(setting, `${where} ${problem}${err.code ? ` (${err.code})` : ''}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Why a directory cannot be used, for people: the error's code in words, then the code. */
export function directoryProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOTDIR' || code === 'EEXIST'
      ? 'a part of the path is a file, not a directory'
      : code === 'EACCES' || code === 'EPERM'
        ? 'this user may not create or write in it'
        : code === 'EROFS'
          ? 'it is on a read-only file system'
          : code === 'ENOENT'
            ? 'it does not exist'
            : (err as Error).message;
  return `${why}${code ? ` (${code})` : ''}`;
}

/** Creates `dir` when missing and checks this process may write in it; else a StartupError naming `setting`. */
export async function usableDirectory(dir: string, setting: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new StartupError(setting, `cannot use directory ${JSON.stringify(dir)}: ${directoryProblem(err)}`, {
      cause: err,
    });
  }
}
