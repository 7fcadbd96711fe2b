import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputBudget } from '../net/output-budget.ts';
import { Element } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { settleReceipt } from '../router/receipts.ts';
import { ACK_ANSWER_TIMEOUT_MS, DeliveryTracker, MAX_UNACKNOWLEDGED } from './delivery-tracker.ts';

const PAIR = { local: 'a.example', remote: 'b.example' };

/** A stream whose socket takes what was written when the test says so. */
function stream() {
  const fake = {
    queued: 0,
    writtenOffset: 0,
    xml: [] as string[],
    unansweredCalls: 0,
    write(xml: string): number {
      fake.xml.push(xml);
      return (fake.queued += xml.length);
    },
    unanswered(): void {
      fake.unansweredCalls++;
    },
  };
  return fake;
}

const roomy = () => new OutputBudget(64 * 1024 * 1024, 64 * 1024 * 1024);
const stanza = (id: string) => serialize(new Element('message', 'jabber:client', { id, to: 'x@b.example' }), 'jabber:client');
const ids = (tracked: { stanza: Element }[]) => tracked.map(({ stanza }) => stanza.attrs.id);

describe('the delivery tracker', () => {
  test('without acknowledgements, what the socket took is the peer’s; the rest comes back, in order', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake, roomy());
    tracker.send(stanza('m1'), PAIR, 0);
    tracker.send(stanza('m2'), PAIR, 1);
    fake.writtenOffset = fake.xml[0]!.length;
    tracker.written(fake.writtenOffset);
    const back = tracker.takeUnconfirmed();
    assert.deepEqual([ids(back), back[0]?.resends, back[0]?.pair], [['m2'], 1, PAIR]);
  });

  test('with acknowledgements (XEP-0198), only what the peer counted is the peer’s', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake, roomy());
    tracker.startAcks();
    for (const id of ['m1', 'm2', 'm3']) tracker.send(stanza(id), PAIR, 0);
    fake.writtenOffset = fake.queued;
    tracker.written(fake.writtenOffset);
    assert.equal(tracker.acknowledge(1), true);
    assert.equal(tracker.acknowledge(4), false, 'more than was sent');
    assert.deepEqual(ids(tracker.takeUnconfirmed()), ['m2', 'm3']);
  });

  test('a receipt is called once the peer has its stanza, and travels with a stanza handed back', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake, roomy());
    tracker.startAcks();
    const settled: string[] = [];
    for (const id of ['m1', 'm2', 'm3']) tracker.send(stanza(id), PAIR, 0, () => settled.push(id));
    fake.writtenOffset = fake.queued;
    tracker.written(fake.writtenOffset);
    assert.deepEqual([...settled], [], 'written is not enough where the peer acknowledges');
    tracker.acknowledge(1);
    assert.deepEqual([...settled], ['m1']);
    const back = tracker.takeUnconfirmed();
    assert.deepEqual([...settled], ['m1'], 'what comes back is not the peer’s');
    for (const { stanza: element } of back) settleReceipt(element);
    assert.deepEqual([...settled], ['m1', 'm2', 'm3'], 'the receipts came back with their stanzas');
    const plain = new DeliveryTracker(fake, roomy());
    plain.send(stanza('p1'), PAIR, 0, () => settled.push('p1'));
    plain.written((fake.writtenOffset = fake.queued));
    assert.equal([...settled].at(-1), 'p1', 'without acknowledgements, once the socket took it');
  });

  test('a peer far behind: acknowledgements in small steps release each stanza once, in order, and what is left comes back', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake, roomy());
    tracker.startAcks();
    const settled: number[] = [];
    for (let n = 1; n <= 1000; n++) tracker.send(stanza(`m${n}`), PAIR, 0, () => settled.push(n));
    fake.writtenOffset = fake.queued;
    tracker.written(fake.writtenOffset);
    for (let h = 3; h <= 900; h += 3) tracker.acknowledge(h);
    tracker.acknowledge(900);
    assert.deepEqual(settled, Array.from({ length: 900 }, (_, index) => index + 1));
    for (let n = 1001; n <= 1010; n++) tracker.send(stanza(`m${n}`), PAIR, 0);
    const back = ids(tracker.takeUnconfirmed());
    assert.deepEqual(back, Array.from({ length: 110 }, (_, index) => `m${index + 901}`));
    assert.equal(tracker.held, 0);
  });

  test('a peer that stops acknowledging is held to what the socket took: acknowledgements are given up past the bound', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake, roomy());
    tracker.startAcks();
    for (let n = 0; n < MAX_UNACKNOWLEDGED; n++) assert.equal(tracker.send(stanza(`m${n}`), PAIR, 0), 'sent');
    assert.equal(tracker.send(stanza('over'), PAIR, 0), 'acks-given-up');
    fake.writtenOffset = fake.queued;
    tracker.written(fake.writtenOffset);
    assert.deepEqual(tracker.takeUnconfirmed(), [], 'everything the socket took counts as delivered');
  });

  test('what stanzas come back as is what was sent: jabber:client elements with their attributes', () => {
    const fake = stream();
    const tracker = new DeliveryTracker(fake, roomy());
    tracker.send(stanza('m1'), PAIR, 0);
    const [back] = tracker.takeUnconfirmed();
    assert.deepEqual([back?.stanza.name, back?.stanza.xmlns, back?.stanza.attrs.to], ['message', 'jabber:client', 'x@b.example']);
  });

  test('a connection holds at most its output budget, and all connections at most theirs; what the peer has is released', () => {
    const size = stanza('m0').length;
    const budget = new OutputBudget(3 * size, 5 * size);
    const one = stream();
    const first = new DeliveryTracker(one, budget);
    first.startAcks();
    const sent = ['m0', 'm1', 'm2', 'm3'].map((id) => first.send(stanza(id), PAIR, 0));
    assert.deepEqual(sent, ['sent', 'sent', 'sent', 'over-budget'], 'a fourth is over the connection budget');
    const second = new DeliveryTracker(stream(), budget);
    assert.deepEqual(['n0', 'n1', 'n2'].map((id) => second.send(stanza(id), PAIR, 0)), ['sent', 'sent', 'over-budget'], 'the total budget is shared');
    assert.deepEqual([first.held, budget.used, budget.overflows], [3 * size, 5 * size, 2]);
    one.writtenOffset = one.queued;
    first.written(one.writtenOffset);
    assert.equal(first.held, 3 * size, 'written but not acknowledged: still held');
    first.acknowledge(2);
    assert.deepEqual([first.held, budget.used], [size, 3 * size]);
    assert.equal(first.send(stanza('m4'), PAIR, 0), 'sent');
    first.takeUnconfirmed();
    assert.equal(budget.used, 2 * size, 'a closed connection holds nothing');
  });

  test('a peer that leaves an acknowledgement request unanswered is reported once the answer is overdue', (context) => {
    context.mock.timers.enable({ apis: ['setTimeout'] });
    const fake = stream();
    const tracker = new DeliveryTracker(fake, roomy());
    tracker.startAcks();
    for (let n = 0; n < 16; n++) tracker.send(stanza(`m${n}`), PAIR, 0);
    assert.ok(fake.xml.at(-1)!.includes('<r '), 'the 16th stanza asks for an acknowledgement');
    context.mock.timers.tick(ACK_ANSWER_TIMEOUT_MS - 1);
    tracker.acknowledge(16);
    for (let n = 0; n < 16; n++) tracker.send(stanza(`k${n}`), PAIR, 0);
    context.mock.timers.tick(ACK_ANSWER_TIMEOUT_MS - 1);
    assert.equal(fake.unansweredCalls, 0, 'answered in time, and the next request has time of its own');
    context.mock.timers.tick(1);
    assert.equal(fake.unansweredCalls, 1);
    tracker.takeUnconfirmed();
  });
});
