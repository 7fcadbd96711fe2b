import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entityTime, timezoneOffset } from './time.ts';

/** A date whose local time zone is `minutesEast` minutes ahead of UTC, whatever TZ the tests run in. */
function dateIn(iso: string, minutesEast: number): Date {
  return Object.assign(new Date(iso), { getTimezoneOffset: () => -minutesEast });
}

test('XEP-0082 offsets: +hh:mm east of UTC, -hh:mm west, +00:00 at UTC', () => {
  assert.equal(timezoneOffset(dateIn('2026-01-01T00:00:00Z', 0)), '+00:00');
  assert.equal(timezoneOffset(dateIn('2026-01-01T00:00:00Z', 330)), '+05:30');
  assert.equal(timezoneOffset(dateIn('2026-01-01T00:00:00Z', -210)), '-03:30');
});

test('XEP-0202 section 3: <tzo/> and <utc/> without fractions of a second', () => {
  const time = entityTime(dateIn('2026-03-04T05:06:07.891Z', 60));
  assert.equal(time.getChildText('tzo'), '+01:00');
  assert.equal(time.getChildText('utc'), '2026-03-04T05:06:07Z');
});
