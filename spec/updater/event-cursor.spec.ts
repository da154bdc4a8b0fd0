import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AuditEvent } from '../../shared/cc/audit-events';
import { ccTimestamp } from '../../shared/cc/audit-events';
import { advance, cursorAtNewest, DEFAULT_LOOKBACK_MS, EventCursor, pollFrom } from '../../updater/event-cursor';

const T0 = Date.parse('2026-11-30T10:00:00Z');
const event = (guid: string, atMs: number, type = 'audit.app.process.scale'): AuditEvent => {
  const createdAt = ccTimestamp(atMs);
  return { guid, createdAt, at: Date.parse(createdAt), type, target: { guid: 'app-1', type: 'app' } };
};

/** What a CC answers a poll asked from `from` at `now`: events committed by then, stamped at or after `from`. */
const ccAnswer = (all: Array<AuditEvent & { committedAt: number }>, from: number, now: number) =>
  all.filter((e) => e.committedAt <= now && e.at >= from).sort((a, b) => a.at - b.at);

describe('following audit events: the cursor (pure)', () => {
  it('an event stamped in the same second as the last one seen, created after the poll, is caught by the next poll', () => {
    const first = event('e1', T0 + 100);
    let cursor: EventCursor = cursorAtNewest([], 0);
    const poll1 = advance(cursor, [first]);
    assert.deepEqual(
      poll1.fresh.map((e) => e.guid),
      ['e1'],
    );
    cursor = poll1.next;
    // e2 has the same created_at (one-second resolution) as e1; the CC answers both again.
    const second = event('e2', T0 + 900);
    assert.equal(second.createdAt, first.createdAt);
    assert.ok(pollFrom(cursor) <= second.at, 'the next poll asks from a second that includes e2');
    const poll2 = advance(cursor, [first, second]);
    assert.deepEqual(
      poll2.fresh.map((e) => e.guid),
      ['e2'],
      'e1 is not handled twice, e2 not lost',
    );
  });

  it('an event older than the poll asked for (a CC ignoring the filter) is never handled and never moves the cursor back', () => {
    const cursor = advance(cursorAtNewest([], 0), [event('new', T0 + 60_000)]).next;
    const old = event('old', T0);
    const step = advance(cursor, [old]);
    assert.deepEqual(step.fresh, []);
    assert.equal(step.stale, 1);
    assert.equal(step.next.newestMs, cursor.newestMs);
  });

  it('an event committed late but stamped within the look-back window is still handled once', () => {
    const cursor = advance(cursorAtNewest([], 0), [event('b', T0 + 3_000)]).next;
    const late = event('a', T0 + 1_000); // stamped before b, committed after the poll that saw b
    const step = advance(cursor, [late, event('b', T0 + 3_000)]);
    assert.deepEqual(
      step.fresh.map((e) => e.guid),
      ['a'],
    );
  });

  it('starting at the newest events: those already there are not handled again', () => {
    const before = [event('x', T0 + 2_000), event('y', T0 + 2_000), event('w', T0)];
    const cursor = cursorAtNewest(before);
    const step = advance(cursor, [...before].reverse().concat(event('z', T0 + 2_000)));
    assert.deepEqual(
      step.fresh.map((e) => e.guid),
      ['z'],
    );
  });

  it('model: over any events, commit delays within the look-back and any poll times, every event is handled exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 60_000 }), delay: fc.integer({ min: 0, max: 4_000 }) }), {
          maxLength: 60,
        }),
        fc.array(fc.integer({ min: 0, max: 70_000 }), { minLength: 1, maxLength: 30 }),
        (specs, pollTimes) => {
          const all = specs.map((s, i) => ({ ...event(`e${i}`, T0 + s.at), committedAt: T0 + s.at + s.delay }));
          let cursor = cursorAtNewest([], 0);
          const handled: string[] = [];
          // Polls in time order, and a last one after every event is committed.
          for (const t of [...pollTimes.sort((a, b) => a - b), 80_000]) {
            const step = advance(cursor, ccAnswer(all, pollFrom(cursor), T0 + t));
            handled.push(...step.fresh.map((e) => e.guid));
            cursor = step.next;
          }
          assert.equal(new Set(handled).size, handled.length, `an event was handled twice: ${handled.join(',')}`);
          assert.deepEqual([...handled].sort(), all.map((e) => e.guid).sort(), 'every event handled');
          assert.ok(cursor.handled.size <= all.length, 'the remembered guids stay bounded');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the remembered guids are only those within the look-back window of the newest event', () => {
    let cursor = cursorAtNewest([], 0);
    for (let i = 0; i < 100; i++) cursor = advance(cursor, [event(`e${i}`, T0 + i * 1_000)]).next;
    assert.ok(
      cursor.handled.size <= DEFAULT_LOOKBACK_MS / 1_000 + 1,
      `${cursor.handled.size} guids kept after 100 s of events`,
    );
  });
});
