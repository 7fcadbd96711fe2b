import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NS_CLIENT } from './element.ts';
import { HEADER, feed, newParser, type Outcome } from './parser-fixtures.ts';

/** A parser whose stanza handler pauses it after every `every`th stanza. */
function pausing(every: number, options: Parameters<typeof newParser>[0] = {}): Outcome {
  const outcome = newParser(options);
  const record = outcome.handlers.stanza;
  outcome.handlers.stanza = (element) => {
    record(element);
    if (outcome.stanzas.length % every === 0) outcome.parser.pause();
  };
  return outcome;
}

const ids = (outcome: Outcome): string[] => outcome.stanzas.map((stanza) => stanza.attrs.id ?? '');
const firstError = (outcome: Outcome): string | undefined => outcome.errors[0]?.condition;
const messages = (from: number, to: number): string => Array.from({ length: to - from }, (_, index) => `<message id='${from + index}'><body>x</body></message>`).join('');

test('a pause from a stanza handler stops after that stanza; resume goes on where it stopped, and may stop again', () => {
  const outcome = pausing(3);
  feed(outcome.parser, HEADER + messages(0, 10));
  assert.deepEqual(ids(outcome), ['0', '1', '2'], 'the rest of the chunk is not parsed');
  assert.equal(outcome.parser.paused, true);
  outcome.parser.resume();
  assert.deepEqual(ids(outcome), ['0', '1', '2', '3', '4', '5']);
  outcome.parser.resume();
  outcome.parser.resume();
  assert.deepEqual(ids(outcome), Array.from({ length: 10 }, (_, id) => String(id)));
  assert.equal(outcome.parser.paused, false, 'the last resume ended the chunk without a pause');
  outcome.parser.resume();
  assert.equal(outcome.stanzas.length, 10, 'resume without a pause does nothing');
  assert.deepEqual(outcome.errors, []);
});

test('what arrives while paused waits behind what the pause left, in order, split characters and tags included', () => {
  const outcome = pausing(2);
  const body = Buffer.from(`${messages(0, 2)}<message id='2'><body>café</body></message>${messages(3, 5)}</stream:stream>`);
  const split = body.indexOf(Buffer.from('é')) + 1; // inside the two bytes of é
  feed(outcome.parser, Buffer.concat([Buffer.from(HEADER), body.subarray(0, split)]));
  assert.deepEqual(ids(outcome), ['0', '1']);
  feed(outcome.parser, body.subarray(split, split + 5));
  feed(outcome.parser, body.subarray(split + 5));
  assert.deepEqual(ids(outcome), ['0', '1'], 'nothing parsed while paused');
  outcome.parser.resume();
  assert.deepEqual(ids(outcome), ['0', '1', '2', '3']);
  assert.equal(outcome.stanzas[2]!.getChildText('body', NS_CLIENT), 'café');
  assert.equal(outcome.closes, 0);
  outcome.parser.resume();
  assert.deepEqual(ids(outcome), ['0', '1', '2', '3', '4']);
  assert.equal(outcome.closes, 1, 'the stream close after the last stanza');
  assert.deepEqual(outcome.errors, []);
});

test('a malformed byte after a pause is found when parsing reaches it, after the stanzas before it', () => {
  const outcome = pausing(1);
  feed(outcome.parser, `${HEADER}${messages(0, 3)}<message id='3'></presence>`);
  assert.deepEqual(ids(outcome), ['0']);
  assert.deepEqual(outcome.errors, [], 'not yet');
  outcome.parser.resume();
  outcome.parser.resume();
  assert.deepEqual(ids(outcome), ['0', '1', '2']);
  outcome.parser.resume();
  assert.equal(firstError(outcome), 'not-well-formed');
  assert.equal(outcome.parser.paused, false, 'a stopped parser keeps nothing');
  feed(outcome.parser, messages(4, 5));
  assert.equal(outcome.stanzas.length, 3);
});

test('max_stanza_bytes counts from each stanza\'s own start across a pause', () => {
  // The limit is the size of each message below: it lets them through and refuses one a byte longer.
  const stanza = (id: number) => `<message id='${id}'><body>xx</body></message>`;
  const outcome = pausing(1, { limits: { max_stanza_bytes: Buffer.byteLength(stanza(1)) } });
  feed(outcome.parser, HEADER + stanza(1) + stanza(2) + stanza(3) + `<message id='4'><body>xxx</body></message>`);
  outcome.parser.resume();
  outcome.parser.resume();
  assert.deepEqual(ids(outcome), ['1', '2', '3'], 'stanzas at the limit pass after pauses');
  assert.deepEqual(outcome.errors, []);
  outcome.parser.resume();
  assert.equal(firstError(outcome), 'policy-violation', 'one byte over is refused');
});

test('max_stanza_bytes holds for a stanza that starts in the bytes a pause left and ends in a later chunk', () => {
  const stanza = (id: number, body: string) => `<message id='${id}'><body>${body}</body></message>`;
  for (const [body, refused] of [['xx', false], ['xxx', true]] as const) {
    const outcome = pausing(1, { limits: { max_stanza_bytes: Buffer.byteLength(stanza(1, 'xx')) } });
    const second = stanza(2, body);
    feed(outcome.parser, HEADER + stanza(1, 'xx') + second.slice(0, 10));
    outcome.parser.resume();
    feed(outcome.parser, second.slice(10));
    assert.deepEqual(ids(outcome), refused ? ['1'] : ['1', '2'], body);
    assert.equal(firstError(outcome), refused ? 'policy-violation' : undefined, body);
  }
});

test('a stream restart (reset) from a held stanza\'s handler applies to the bytes the pause left', () => {
  const outcome = newParser();
  let restartAfter: string | undefined;
  outcome.handlers.stanza = (element) => {
    outcome.stanzas.push(element);
    if (element.attrs.id === 'auth') {
      restartAfter = 'auth';
      outcome.parser.pause();
    }
  };
  feed(outcome.parser, `${HEADER}<auth id='auth'/>${HEADER}<iq id='bind'/>`);
  assert.deepEqual(ids(outcome), ['auth']);
  assert.equal(restartAfter, 'auth');
  outcome.parser.reset();
  outcome.parser.resume();
  assert.deepEqual(outcome.errors, [], 'the second header opens the new stream');
  assert.equal(outcome.roots.length, 2);
  assert.deepEqual(ids(outcome), ['auth', 'bind']);
});

test('a paused parser does not park', () => {
  const outcome = pausing(1);
  feed(outcome.parser, HEADER + messages(0, 2));
  assert.equal(outcome.parser.park(), undefined, 'bytes wait for resume');
  outcome.parser.resume();
  assert.equal(outcome.parser.paused, true, 'paused again after the second stanza, with nothing left');
  outcome.parser.resume();
  assert.ok(outcome.parser.park(), 'parks once nothing waits');
});
