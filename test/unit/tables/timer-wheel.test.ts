import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TimerWheel } from '../../../src/tables/timer-wheel';
import { mulberry32, below } from '../../util/prng';

test('1. differential vs reference: 200k schedule/cancel/advance ops, every wheel level', () => {
  const r = mulberry32(42);
  const slots = 3000, tick = 10, epoch = 1_700_000_000_000;
  const w = new TimerWheel(slots, tick, epoch);
  const ref = new Map<number, number>(); // slot → due tick
  let now = epoch, fired: number[] = [];
  const onExpire = (s: number) => { fired.push(s); };
  let total = 0;
  for (let op = 0; op < 200_000; op++) {
    const act = below(r, 10);
    const s = below(r, slots);
    if (act < 5) {
      const range = [3000, 700_000, 200_000_000][below(r, 3)]!;
      const exp = now + below(r, range);
      w.schedule(s, exp);
      ref.set(s, Math.max(Math.ceil((exp - epoch) / tick), Math.floor((now - epoch) / tick) + 1));
    } else if (act < 7) {
      w.cancel(s);
      ref.delete(s);
    } else {
      now += below(r, 4) === 0 ? below(r, 400_000) : below(r, 3000);
      fired = [];
      w.advance(now, onExpire);
      const cur = Math.floor((now - epoch) / tick);
      const want = [...ref].filter(([, d]) => d <= cur).map(([k]) => k).sort((a, b) => a - b);
      for (const k of want) ref.delete(k);
      assert.equal(fired.sort((a, b) => a - b), want, `advance at op ${op}`);
      total += want.length;
    }
    assert.is(w.size, ref.size);
  }
  assert.ok(total > 10_000, `expired ${total}`);
});

test('2. level-3 cascade: far timers fire exactly on their tick', () => {
  const w = new TimerWheel(4, 1, 0);
  const dues = [(1 << 24) + 5, 3 * (1 << 24) + 77, 65536 * 3 + 1, 255];
  dues.forEach((d, s) => w.schedule(s, d));
  let fired: number[] = [];
  for (const d of [...dues].sort((a, b) => a - b)) {
    fired = [];
    w.advance(d - 1, (s) => fired.push(s));
    assert.equal(fired, []);
    w.advance(d, (s) => fired.push(s));
    assert.equal(fired, [dues.indexOf(d)]);
  }
  assert.is(w.size, 0);
});

test('3. rescheduling inside the callback lands on a later tick, never loops', () => {
  const w = new TimerWheel(2, 100, 0);
  w.schedule(0, 100);
  let n = 0;
  w.advance(150, (s) => { n++; w.schedule(s, 0); });
  assert.is(n, 1);
  assert.ok(w.isScheduled(0));
  w.advance(200, () => { n++; });
  assert.is(n, 2);
});

test('4. never fires early: expiry rounds up to the tick', () => {
  const w = new TimerWheel(1, 1000, 0);
  w.schedule(0, 1500);
  let n = 0;
  w.advance(1999, () => n++);
  assert.is(n, 0);
  assert.is(w.expiresAt(0), 2000);
  w.advance(2000, () => n++);
  assert.is(n, 1);
});

test.run();
