/** What a run covers: every binding, or the bindings of some apps (true: an event says it was deleted). */
export type Scope = { kind: 'all' } | { kind: 'apps'; apps: ReadonlyMap<string, boolean> };

interface Waiting<S> {
  promise: Promise<S>;
  resolve: (value: S | Promise<S>) => void;
}

function waiting<S>(): Waiting<S> {
  let resolve!: (value: S | Promise<S>) => void;
  const promise = new Promise<S>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Runs one at a time, full or targeted, never two at once. A full run asked for while one is
 * going joins it. Targeted runs asked for meanwhile are merged into one that starts next; a full
 * run waiting to start covers them too (it reads every app after they were asked for).
 */
export class RunQueue<S> {
  private current?: { kind: 'all' | 'apps'; promise: Promise<S> };
  private queuedFull?: Waiting<S>;
  private queuedApps?: { apps: Map<string, boolean>; done: Waiting<S> };
  private closedBecause?: string;

  constructor(
    private readonly start: (scope: Scope) => Promise<S>,
    private readonly notRun: (why: string) => S,
  ) {}

  full(): Promise<S> {
    if (this.closedBecause !== undefined) return Promise.resolve(this.notRun(this.closedBecause));
    if (this.current?.kind === 'all') return this.current.promise;
    this.queuedFull ??= waiting();
    const promise = this.queuedFull.promise;
    this.next();
    return promise;
  }

  targeted(apps: ReadonlyMap<string, boolean>): Promise<S> {
    if (this.closedBecause !== undefined) return Promise.resolve(this.notRun(this.closedBecause));
    if (this.queuedFull) return this.queuedFull.promise;
    const q = (this.queuedApps ??= { apps: new Map(), done: waiting() });
    for (const [app, deleted] of apps) q.apps.set(app, deleted || q.apps.get(app) === true);
    const promise = q.done.promise;
    this.next();
    return promise;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Resolves when no run is going and none is waiting. */
  async idle(): Promise<void> {
    while (this.current) await this.current.promise.catch(() => undefined);
  }

  /** No run starts after this; runs waiting to start resolve as not run, saying why. */
  close(why: string): void {
    this.closedBecause = why;
    this.queuedFull?.resolve(this.notRun(why));
    this.queuedApps?.done.resolve(this.notRun(why));
    this.queuedFull = undefined;
    this.queuedApps = undefined;
  }

  private next(): void {
    if (this.current || this.closedBecause !== undefined) return;
    let kind: 'all' | 'apps';
    let promise: Promise<S>;
    if (this.queuedFull) {
      const full = this.queuedFull;
      const covered = this.queuedApps;
      this.queuedFull = this.queuedApps = undefined;
      kind = 'all';
      promise = this.start({ kind: 'all' });
      full.resolve(promise);
      covered?.done.resolve(promise);
    } else if (this.queuedApps) {
      const { apps, done } = this.queuedApps;
      this.queuedApps = undefined;
      kind = 'apps';
      promise = this.start({ kind: 'apps', apps });
      done.resolve(promise);
    } else return;
    this.current = { kind, promise };
    const after = () => {
      this.current = undefined;
      this.next();
    };
    promise.then(after, after);
  }
}
