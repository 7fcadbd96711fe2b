import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsoleConfig } from '../config/types.ts';
import { ConsoleSessions, sameToken } from './sessions.ts';

const SETTINGS: ConsoleConfig = { enabled: true, admins: ['admin@example.com', 'other@example.com'], session_lifetime: 3600, idle_timeout: 600, max_sessions: 2, max_event_streams: 4 };

test('a login is found by its token, with its own CSRF token, until it has been idle too long', () => {
  const sessions = new ConsoleSessions(() => SETTINGS);
  const { token, login } = sessions.open('admin@example.com', 0);
  assert.notEqual(login.csrf, token);
  assert.equal(sessions.find(token, true, 599_000), login);
  assert.equal(sessions.find(token, true, 1_198_000), login, 'each request restarts the idle time');
  assert.equal(sessions.find(token, false, 1_797_000), login);
  assert.equal(sessions.find(token, true, 1_798_000), undefined, 'a look that does not touch it did not restart it');
  assert.equal(sessions.size, 0);
  assert.equal(sessions.find('forged', true, 0), undefined);
  assert.equal(sessions.find(undefined), undefined);
});

test('a login ends after session_lifetime however active, at logout, and when its admin is no longer one', () => {
  let settings = SETTINGS;
  const sessions = new ConsoleSessions(() => settings);
  const first = sessions.open('admin@example.com', 0);
  for (let now = 500_000; now < 3_600_000; now += 500_000) assert.ok(sessions.find(first.token, true, now));
  assert.equal(sessions.find(first.token, true, 3_600_000), undefined);
  const second = sessions.open('admin@example.com', 0);
  sessions.close(second.token);
  assert.equal(sessions.find(second.token, true, 1), undefined);
  const third = sessions.open('other@example.com', 0);
  settings = { ...SETTINGS, admins: ['admin@example.com'] };
  assert.equal(sessions.find(third.token, true, 1), undefined);
});

test('past max_sessions the least recently used login ends; closeAdmin ends all of an admin\'s', () => {
  const sessions = new ConsoleSessions(() => SETTINGS);
  const a = sessions.open('admin@example.com', 0);
  const b = sessions.open('other@example.com', 0);
  assert.ok(sessions.find(a.token, true, 1));
  const c = sessions.open('admin@example.com', 2);
  assert.equal(sessions.size, 2);
  assert.equal(sessions.find(b.token, true, 3), undefined, 'b was used least recently');
  assert.ok(sessions.find(c.token, true, 3));
  sessions.closeAdmin('admin@example.com');
  assert.equal(sessions.size, 0);
});

test('tokens compare in full', () => {
  assert.equal(sameToken('abc', 'abc'), true);
  assert.equal(sameToken('abc', 'abd'), false);
  assert.equal(sameToken('abc', 'ab'), false);
  assert.equal(sameToken('', 'x'), false);
});
