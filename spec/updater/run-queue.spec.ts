import assert from 'node:assert/strict';
import { RunQueue, Scope } from '../../updater/run-queue';

/** A queue whose runs finish when the test says, recording what each covered. */
function harness() {
  const started: Array<{ scope: Scope; finish: (v: string) => void }> = [];
  let running = 0;
  let most = 0;
  const queue = new RunQueue<string>(
    (scope) =>
      new Promise<string>((resolve) => {
        running++;
        most = Math.max(most, running);
        started.push({
          scope,
          finish: (v) => {
            running--;
            resolve(v);
          },
        });
      }),
    (why) => `not run: ${why}`,
  );
  const apps = (i: number) => {
    const s = started[i].scope;
    return s.kind === 'all' ? 'all' : [...s.apps].map(([a, d]) => (d ? `${a}(deleted)` : a)).join(',');
  };
  const settle = () => new Promise((r) => setImmediate(r));
  return { queue, started, apps, settle, most: () => most };
}

describe('updater: one run at a time, full or targeted (RunQueue)', () => {
  it('a full run asked for while one is going joins it', async () => {
    const h = harness();
    const a = h.queue.full();
    const b = h.queue.full();
    h.started[0].finish('first');
    assert.equal(await a, 'first');
    assert.equal(await b, 'first');
    assert.equal(h.started.length, 1);
  });

  it('targeted runs asked for during a run merge into one that starts after it', async () => {
    const h = harness();
    const full = h.queue.full();
    const t1 = h.queue.targeted(new Map([['a', false]]));
    const t2 = h.queue.targeted(new Map([['b', true]]));
    const t3 = h.queue.targeted(new Map([['a', true]]));
    assert.equal(h.started.length, 1, 'nothing starts while the full run goes');
    h.started[0].finish('full');
    await full;
    await h.settle();
    assert.equal(h.started.length, 2);
    assert.equal(h.apps(1), 'a(deleted),b(deleted)', 'merged, and a delete sticks');
    h.started[1].finish('targeted');
    assert.deepEqual(await Promise.all([t1, t2, t3]), ['targeted', 'targeted', 'targeted']);
    assert.equal(h.most(), 1, 'never two runs at once');
  });

  it('a full run waiting to start covers the targeted runs asked for before it starts', async () => {
    const h = harness();
    const first = h.queue.targeted(new Map([['a', false]]));
    const t = h.queue.targeted(new Map([['b', false]]));
    const full = h.queue.full();
    const after = h.queue.targeted(new Map([['c', false]]));
    h.started[0].finish('t-a');
    await first;
    await h.settle();
    assert.equal(h.apps(1), 'all');
    h.started[1].finish('full');
    assert.equal(await full, 'full');
    assert.equal(await t, 'full');
    assert.equal(await after, 'full');
    await h.settle();
    assert.equal(h.started.length, 2, 'no run left to do');
  });

  it('after close, nothing starts and waiting runs say why', async () => {
    const h = harness();
    const going = h.queue.full();
    const waitingRun = h.queue.targeted(new Map([['a', false]]));
    h.queue.close('shutting down');
    assert.equal(await waitingRun, 'not run: shutting down');
    assert.equal(await h.queue.full(), 'not run: shutting down');
    h.started[0].finish('done');
    assert.equal(await going, 'done');
    await h.queue.idle();
    assert.equal(h.started.length, 1);
  });
});
