/** Replay protection, RFC 5944 §5.7: timestamps with a window and resynchronisation, and nonces. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ntpSeconds, timestampId, idGreater, newReplayState, checkTimestamp, acceptTimestamp, checkNonce, issueNonce,
  replyMatches, resyncOffset, NTP_UNIX_OFFSET_S,
} from '../../../src/auth/replay';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0, 250);

test('NTP seconds count from 1900', () => {
  assert.is(ntpSeconds(0), NTP_UNIX_OFFSET_S);
  assert.is(ntpSeconds(T0), Math.floor(T0 / 1000) + NTP_UNIX_OFFSET_S);
});

test('timestamp identification: seconds high, clock fraction and random low', () => {
  const a = timestampId(T0, 0);
  const b = timestampId(T0, 0x3fffff);
  assert.is(a.high, ntpSeconds(T0));
  assert.is(a.low >>> 22, b.low >>> 22); // same millisecond -> same clock bits
  assert.is(a.low >>> 30, 1); // 250 ms is a quarter second: top fraction bits 01
  assert.ok(b.low > a.low);
});

test('accepted within the window and newer, copied whole into the reply', () => {
  const st = newReplayState();
  const id = timestampId(T0 + 5000, 1);
  const v = checkTimestamp(st, id.high, id.low, T0, 7);
  assert.equal(v, { ok: true, replyHigh: id.high, replyLow: id.low });
});

test('outside the window: 133 with the HA time high and the request low (RFC 5944 §5.7.1)', () => {
  const st = newReplayState();
  for (const skew of [8000, -8000, 3600_000]) {
    const id = timestampId(T0 + skew, 7);
    const v = checkTimestamp(st, id.high, id.low, T0, 7);
    assert.equal(v, { ok: false, code: 133, reason: 'clock-skew', replyHigh: ntpSeconds(T0), replyLow: id.low });
  }
});

test('a replayed or older identification is refused after one was accepted', () => {
  const st = newReplayState();
  const id = timestampId(T0, 5);
  assert.ok(checkTimestamp(st, id.high, id.low, T0, 7).ok);
  acceptTimestamp(st, id.high, id.low);
  const replay = checkTimestamp(st, id.high, id.low, T0 + 1000, 7);
  assert.is(replay.ok, false);
  assert.is(!replay.ok && replay.reason, 'not-newer');
  const older = checkTimestamp(st, id.high, id.low - 1, T0, 7);
  assert.is(older.ok, false);
  const newer = timestampId(T0 + 1, 6);
  assert.ok(checkTimestamp(st, newer.high, newer.low, T0, 7).ok);
});

test('checking does not change state; only acceptTimestamp does', () => {
  const st = newReplayState();
  const id = timestampId(T0, 5);
  checkTimestamp(st, id.high, id.low, T0, 7);
  assert.equal(st, newReplayState());
});

test('the node resynchronises from a 133 reply and is then accepted', () => {
  const haNow = T0;
  const mnNow = T0 - 60_000; // node clock a minute slow
  const st = newReplayState();
  const first = timestampId(mnNow, 9);
  const v = checkTimestamp(st, first.high, first.low, haNow, 7);
  assert.is(v.ok, false);
  assert.ok(replyMatches(first.low, v.replyLow));
  const offset = resyncOffset(v.replyHigh, mnNow);
  assert.is(offset, 60);
  const second = timestampId(mnNow + 200, 10, offset);
  assert.ok(checkTimestamp(st, second.high, second.low, haNow + 200, 7).ok);
});

test('64-bit ordering survives the NTP era wrap in 2036', () => {
  assert.ok(idGreater(0x00000002, 0, 0xfffffffe, 0));
  assert.not.ok(idGreater(0xfffffffe, 0, 0x00000002, 0));
  assert.ok(idGreater(5, 2, 5, 1));
  assert.not.ok(idGreater(5, 1, 5, 1));
});

test('nonces: first request resyncs, then the issued nonce is required (RFC 5944 §5.7.2)', () => {
  const st = newReplayState();
  const v1 = checkNonce(st, 0x1234, 0xaaaa, 0x5555);
  assert.equal(v1, { ok: false, code: 133, reason: 'bad-nonce', replyHigh: 0x5555, replyLow: 0xaaaa });
  issueNonce(st, v1.replyHigh);
  const v2 = checkNonce(st, 0x5555, 0xbbbb, 0x6666);
  assert.equal(v2, { ok: true, replyHigh: 0x6666, replyLow: 0xbbbb });
  issueNonce(st, v2.replyHigh);
  assert.is(checkNonce(st, 0x5555, 0xcccc, 0x7777).ok, false, 'an old nonce is a replay');
});

test.run();
