import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryLogger } from '../util/log.ts';
import { ConnectionKeys, KEPT_MS, MAX_LOOKING_UP, type SharedHop } from './connection-keys.ts';

/** Keys whose lookups answer when the test says so. */
function keys(maxWaiting = 100) {
  let now = 1000;
  const asked: string[] = [];
  const answers = new Map<string, PromiseWithResolvers<SharedHop>>();
  const { logger, lines } = memoryLogger();
  const connectionKeys = new ConnectionKeys({
    sharedHop: (remote) => {
      asked.push(remote);
      const answer = Promise.withResolvers<SharedHop>();
      answers.set(remote, answer);
      return answer.promise;
    },
    maxWaiting: () => maxWaiting,
    logger,
    now: () => now,
  });
  return { connectionKeys, asked, answers, lines, advance: (ms: number) => (now += ms) };
}

test('stanzas for a destination being looked up get its host key in the order they came; the key is kept', async () => {
  const { connectionKeys, asked, answers } = keys();
  const got: string[] = [];
  const record = (entry: string): void => void got.push(entry);
  for (const n of [1, 2, 3]) assert.equal(connectionKeys.with('a.example', (key) => record(`${n} ${key}`)), true);
  assert.equal(got.join(), '', 'none before the answer');
  answers.get('a.example')!.resolve({ hop: 'xmpp.example:5269' });
  // Asked after the three: answered after them.
  assert.equal(await connectionKeys.keyOf('a.example'), 's2s-host:xmpp.example:5269');
  connectionKeys.with('a.example', (key) => record(`4 ${key}`));
  assert.deepEqual(got, ['1 s2s-host:xmpp.example:5269', '2 s2s-host:xmpp.example:5269', '3 s2s-host:xmpp.example:5269', '4 s2s-host:xmpp.example:5269']);
  assert.deepEqual(asked, ['a.example'], 'asked once');
  assert.equal(ConnectionKeys.label('s2s-host:xmpp.example:5269'), 'xmpp.example:5269');
});

test('no next hop to share: the per-domain key, and why in a debug log', async () => {
  const { connectionKeys, answers, lines } = keys();
  const key = connectionKeys.keyOf('b.example');
  answers.get('b.example')!.resolve({ reason: 's2s.multiplex is off' });
  assert.equal(await key, 's2s:b.example');
  assert.ok(lines.some((line) => line.includes('owned per domain') && line.includes('s2s.multiplex is off')), lines.join('\n'));
});

test('a kept key is looked up again after its time', async () => {
  const { connectionKeys, asked, answers, advance } = keys();
  const first = connectionKeys.keyOf('c.example');
  answers.get('c.example')!.resolve({ hop: 'old.example:5269' });
  assert.equal(await first, 's2s-host:old.example:5269');
  advance(KEPT_MS - 1);
  assert.equal(await connectionKeys.keyOf('c.example'), 's2s-host:old.example:5269');
  advance(1);
  const again = connectionKeys.keyOf('c.example');
  answers.get('c.example')!.resolve({ hop: 'new.example:5269' });
  assert.equal(await again, 's2s-host:new.example:5269');
  assert.deepEqual(asked, ['c.example', 'c.example']);
});

test('bounded: stanzas waiting for one lookup, and destinations looked up at once', async () => {
  const { connectionKeys } = keys(2);
  assert.equal(connectionKeys.with('d.example', () => undefined), true);
  assert.equal(connectionKeys.with('d.example', () => undefined), true);
  assert.equal(connectionKeys.with('d.example', () => undefined), false, 'the third waits no longer');
  for (let n = 1; n < MAX_LOOKING_UP; n++) assert.equal(connectionKeys.with(`${n}.example`, () => undefined), true);
  assert.equal(connectionKeys.with('one-more.example', () => undefined), false);
  assert.equal(await connectionKeys.keyOf('one-more.example'), undefined);
});
