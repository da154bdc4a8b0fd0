import { setTimeout as sleep } from 'node:timers/promises';
import { AuditEvent, listAuditEventsSince, newestAuditEvents, TooManyEventsError } from '../shared/cc/audit-events';
import type { CloudControllerClient } from '../shared/cc';
import type { Logger } from '../shared/logger';
import { AppMetrics, FOLLOWER_STATES } from '../shared/metrics';
import { advance, cursorAtNewest, DEFAULT_LOOKBACK_MS, EventCursor, pollFrom } from './event-cursor';
import { triageEvents } from './event-triage';
import { failureOf, FollowerFailure } from './follower-failures';
import type { Reconciler, RunSummary } from './reconciler';

export type FollowerState = (typeof FOLLOWER_STATES)[number];

export interface FollowerOptions {
  /** Its own client: no retries, no waiting out 429s, a short timeout (FOLLOWER_CC_TUNING). */
  cc: CloudControllerClient;
  reconciler: Pick<Reconciler, 'run' | 'runFor' | 'boundApps' | 'routes'>;
  logger: Logger;
  metrics?: AppMetrics;
  /** EVENT_POLL_SECONDS. */
  pollMs: number;
  /** A targeted run starts this long after the poll that asked for it, so a burst is one run. */
  settleMs?: number;
  /** No successful poll for this long: events may have been missed or be too many; reconcile everything. */
  maxGapMs?: number;
  /** More matching events than this in one poll: reconcile everything instead. */
  maxEventsPerPoll?: number;
  /** More bound apps named in one poll than this: a full run is about as cheap and surer. */
  maxTargetedApps?: number;
  /** After a 403 or 404, try again this often (quietly: it was logged once). */
  unavailableRetryMs?: number;
  maxBackoffMs?: number;
  lookbackMs?: number;
  /** How many polls a deleted app the CC still shows is looked at again (its delete job is running). */
  deleteRechecks?: number;
  now?: () => number;
}

/** Events asked for at start: more within the look-back than this are read whole. */
const START_PAGE = 200;

/** The CC tuning of the follower's client: one request per poll, failures wait for the next poll. */
export const FOLLOWER_CC_TUNING = { timeoutMs: 5_000, retries: 0, maxRetryAfterMs: 0 };

/** Events in flight are handled again on the next poll (the cursor did not move). */
class RunFailedError extends Error {}

/**
 * Follows the Cloud Controller's audit events so targets change within seconds: every poll
 * asks for the events since the last one seen (one request when nothing happened), turns those
 * naming bound apps into a targeted run, and falls back to a full run when it cannot keep up.
 * Failures degrade to the schedule, never to wrong targets: events persist, so a later poll
 * catches up, and the cursor moves only after their run succeeded.
 */
export class EventFollower {
  private cursor?: EventCursor;
  private lastSuccessAt = 0;
  private startRunDone = false;
  private failures = 0;
  private unavailable?: FollowerFailure['reason'];
  private readonly pendingDeletes = new Map<string, number>();
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private state: FollowerState = 'catching_up';
  private readonly now: () => number;

  constructor(private readonly opts: FollowerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Begins with a full reconcile (the start run), then follows from where it started. */
  start(): void {
    this.setState('catching_up');
    this.loop ??= this.follow();
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('the process is shutting down'));
    await this.loop;
  }

  get currentState(): FollowerState {
    return this.state;
  }

  private async follow(): Promise<void> {
    while (!this.stopping.signal.aborted) {
      const delay = await this.step();
      await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }

  /** One poll (or catch-up); returns how long to wait before the next. */
  private async step(): Promise<number> {
    try {
      const behind = this.now() - this.lastSuccessAt > (this.opts.maxGapMs ?? 300_000);
      if (!this.cursor || behind) await this.catchUp(behind && this.cursor !== undefined);
      else await this.poll(this.cursor);
      this.lastSuccessAt = this.now();
      this.opts.metrics?.followerLastPoll.set(this.lastSuccessAt / 1000);
      this.failures = 0;
      if (this.unavailable) {
        this.opts.logger.info('audit events are readable again: following them');
        this.unavailable = undefined;
      }
      this.setState('following');
      return this.opts.pollMs;
    } catch (err) {
      return this.failed(err);
    }
  }

  /**
   * Where to start following (the newest events, by the CC's clock), then a full run: it starts
   * after that point, so it covers every change before it. Without a starting point the start run
   * still happens (the schedule is all there is then), and the next catch-up runs again.
   */
  private async catchUp(afterGap: boolean): Promise<void> {
    this.setState('catching_up');
    if (afterGap) this.opts.logger.warn('the audit-event follower fell behind: reconciling every binding');
    this.cursor = undefined;
    let cursor: EventCursor;
    try {
      cursor = cursorAtNewest(await this.newestEvents());
    } catch (err) {
      if (!this.startRunDone) {
        this.startRunDone = true;
        await this.opts.reconciler.run();
      }
      throw err;
    }
    this.startRunDone = true;
    await this.expectOk(this.opts.reconciler.run());
    this.pendingDeletes.clear();
    this.cursor = cursor;
    this.setLag(cursor.newestMs);
  }

  /**
   * The newest events, and every one within the look-back of the newest: those the first poll
   * asks for again must all be marked handled. One small request, unless a burst filled it.
   */
  private async newestEvents(): Promise<AuditEvent[]> {
    const signal = this.stopping.signal;
    const newest = await newestAuditEvents(this.opts.cc, START_PAGE, { signal });
    const top = Math.max(...newest.map((e) => e.at));
    const window = top - (this.opts.lookbackMs ?? DEFAULT_LOOKBACK_MS);
    if (newest.length < START_PAGE || newest.some((e) => e.at < window)) return newest;
    try {
      return (await listAuditEventsSince(this.opts.cc, { sinceMs: window, maxEvents: 5000, signal })).events;
    } catch (err) {
      // Beyond 5,000 in seconds: some are handled once more after the start run; nothing is lost.
      if (err instanceof TooManyEventsError) return newest;
      throw err;
    }
  }

  private async poll(cursor: EventCursor): Promise<void> {
    const lookback = this.opts.lookbackMs ?? DEFAULT_LOOKBACK_MS;
    const from = pollFrom(cursor, lookback);
    let page;
    try {
      page = await listAuditEventsSince(this.opts.cc, {
        sinceMs: from > 0 ? from : undefined,
        maxEvents: this.opts.maxEventsPerPoll ?? 5000,
        signal: this.stopping.signal,
      });
    } catch (err) {
      if (!(err instanceof TooManyEventsError)) throw err;
      this.opts.logger.warn(
        { events: err.total },
        'too many audit events to follow one by one: reconciling every binding',
      );
      return this.catchUp(true);
    }
    if (page.malformed > 0)
      this.opts.logger.warn(
        { malformed: page.malformed },
        'the Cloud Controller sent audit events that are not events: skipped',
      );
    const step = advance(cursor, page.events, lookback);
    if (step.stale > 0)
      this.opts.logger.warn(
        { stale: step.stale },
        'audit events older than asked for: ignored (the schedule covers them)',
      );

    const apps = new Map<string, boolean>();
    if (step.fresh.length > 0) {
      const triage = triageEvents(step.fresh, await this.opts.reconciler.boundApps(), (route) =>
        this.opts.reconciler.routes.appsOn(route),
      );
      for (const [type, n] of triage.counts) {
        if (n.relevant) this.opts.metrics?.auditEvents.inc({ type, relevant: 'true' }, n.relevant);
        if (n.ignored) this.opts.metrics?.auditEvents.inc({ type, relevant: 'false' }, n.ignored);
      }
      for (const app of triage.apps) apps.set(app, triage.deleted.has(app));
    }
    for (const app of this.pendingDeletes.keys()) apps.set(app, true);

    if (apps.size > (this.opts.maxTargetedApps ?? 1000)) {
      this.opts.logger.info({ apps: apps.size }, 'audit events name many bound apps: reconciling every binding');
      await this.expectOk(this.opts.reconciler.run());
      this.pendingDeletes.clear();
    } else if (apps.size > 0) {
      await sleep(this.opts.settleMs ?? 500, undefined, { signal: this.stopping.signal });
      const summary = await this.expectOk(this.opts.reconciler.runFor(apps));
      this.recheckDeletes(apps, summary);
    }
    this.cursor = step.next;
    this.setLag(step.next.newestMs);
  }

  /** A deleted app the CC still shows is looked at again on the next polls, a few times. */
  private recheckDeletes(asked: ReadonlyMap<string, boolean>, summary: RunSummary): void {
    const present = new Set(summary.scope === 'apps' ? (summary.deletedButPresent ?? []) : []);
    for (const [app, deleted] of asked) {
      if (!deleted) continue;
      const left = this.pendingDeletes.get(app) ?? this.opts.deleteRechecks ?? 6;
      if (present.has(app) && left > 0) this.pendingDeletes.set(app, left - 1);
      else this.pendingDeletes.delete(app);
    }
  }

  private async expectOk(run: Promise<RunSummary>): Promise<RunSummary> {
    const summary = await run;
    if (!summary.ok) throw new RunFailedError(summary.error ?? 'reconcile failed');
    return summary;
  }

  private failed(err: unknown): number {
    if (this.stopping.signal.aborted) return 0;
    const { logger, metrics, pollMs } = this.opts;
    if (err instanceof RunFailedError) {
      // The run logged why; the events are asked for again next time.
      this.failures++;
      return this.backoff();
    }
    const failure = failureOf(err);
    metrics?.followerPollFailures.inc({ reason: failure.reason });
    if (failure.reason === 'forbidden' || failure.reason === 'not_found') {
      if (this.unavailable !== failure.reason)
        logger.warn({ reason: failure.reason, err: failure.message }, failure.advice);
      this.unavailable = failure.reason;
      this.setState('unavailable');
      this.cursor = undefined;
      return this.opts.unavailableRetryMs ?? Math.max(pollMs, 300_000);
    }
    this.failures++;
    logger.warn(
      { reason: failure.reason, err: failure.message, retryInMs: this.backoff() },
      'reading the audit events failed: trying again (targets follow the schedule meanwhile)',
    );
    return this.backoff();
  }

  private backoff(): number {
    const { pollMs } = this.opts;
    return Math.min(this.opts.maxBackoffMs ?? 120_000, pollMs * 2 ** Math.min(this.failures, 10));
  }

  private setLag(newestMs: number): void {
    if (newestMs > 0) this.opts.metrics?.followerLag.set(Math.max(0, (this.now() - newestMs) / 1000));
  }

  private setState(state: FollowerState): void {
    this.state = state;
    reportFollowerState(this.opts.metrics, state);
  }
}

/** The state gauge: 1 for `state`, 0 for the others (EVENT_POLL_SECONDS=0 reports 'off'). */
export function reportFollowerState(metrics: AppMetrics | undefined, state: FollowerState): void {
  for (const s of FOLLOWER_STATES) metrics?.followerState.set({ state: s }, s === state ? 1 : 0);
}
