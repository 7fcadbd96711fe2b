import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { Pair } from './binding-table.ts';
import type { S2sContext } from './context.ts';
import { Destination, type Hops } from './destination.ts';
import type { ServerConnection } from './server-connection.ts';
import { MAX_PENDING_VERIFIES, type VerifyOutcome } from './step-dialback-initiator.ts';

const REMOTE = 'b.example';
const message = (id: string, from = 'a.example') => new Element('message', 'jabber:client', { id, from: `u@${from}`, to: `v@${REMOTE}` });

/** A connection that records what it is asked for and sent. */
class FakeConnection {
  readonly localDomain: string;
  readonly requested: string[] = [];
  readonly sent: string[] = [];
  verifyOutcome: VerifyOutcome = 'valid';
  constructor(local = 'a.example') {
    this.localDomain = local;
  }
  /** the certificate presented names only the domain the connection was opened for */
  presentsFor(local: string): boolean {
    return local === this.localDomain;
  }
  request(pair: Pair): void {
    this.requested.push(pair.local);
  }
  sendStanza(stanza: Element, pair: Pair, resends = 0): void {
    this.sent.push(`${stanza.attrs.id} ${pair.local} ${resends}`);
  }
  async verify(): Promise<VerifyOutcome> {
    return this.verifyOutcome;
  }
}

/** Hops whose connection attempts the test settles by hand. */
function setUp(options: { queueMax?: number; multiplex?: boolean } = {}) {
  const bounced: string[] = [];
  const attempts: ((result: FakeConnection | StanzaError) => void)[] = [];
  const own: string[] = [];
  const routes = new Map<string, FakeConnection>();
  const hops: Hops = {
    context: {
      logger: { info: () => {} },
      config: { queue_max_stanzas: options.queueMax ?? 100, retry_initial_delay: 5, retry_max_delay: 60, multiplex: options.multiplex ?? true },
      router: { bounce: (stanza: Element, error: StanzaError) => bounced.push(`${stanza.attrs.id} ${error.condition}: ${error.message}`) },
    } as unknown as S2sContext,
    resends: { resent: 0, bounced: 0 },
    route: (pair) => routes.get(pair.local) as unknown as ServerConnection | undefined,
    connect: (pair, ownConnection) => {
      if (ownConnection) own.push(pair.local);
      return new Promise((resolve) => attempts.push(resolve as (result: FakeConnection | StanzaError) => void));
    },
  };
  const destination = new Destination(REMOTE, hops);
  const connected = async (connection = new FakeConnection()) => {
    attempts.shift()!(connection);
    await new Promise((resolve) => setImmediate(resolve));
    return connection;
  };
  const ready = (connection: FakeConnection, local = 'a.example') => {
    routes.set(local, connection);
    destination.pairReady(connection as unknown as ServerConnection, local);
  };
  return { destination, hops, bounced, attempts, own, connected, ready };
}

describe('a remote destination', () => {
  test('stanzas wait while the connection is set up, one attempt at a time, and leave in order once the pair is ready', async () => {
    const { destination, attempts, connected, ready } = setUp();
    destination.send(message('m1'), 'a.example');
    destination.send(message('m2'), 'a.example');
    destination.send(message('m3'), 'c.example');
    assert.equal(attempts.length, 1);
    const connection = await connected();
    assert.deepEqual(connection.requested, ['a.example', 'c.example'], 'every waiting pair is asked for');
    ready(connection);
    assert.deepEqual(connection.sent, ['m1 a.example 0', 'm2 a.example 0']);
    destination.send(message('m4'), 'a.example');
    assert.deepEqual(connection.sent.at(-1), 'm4 a.example 0', 'a bound pair sends at once');
  });

  test('with s2s.multiplex off, each local domain gets a connection of its own', async () => {
    const { destination, connected, ready, own } = setUp({ multiplex: false });
    destination.send(message('m1'), 'a.example');
    destination.send(message('m2', 'c.example'), 'c.example');
    const first = await connected();
    assert.deepEqual([first.requested, own], [['a.example'], ['c.example']]);
    ready(first);
    const second = await connected(new FakeConnection('c.example'));
    assert.deepEqual(second.requested, ['c.example']);
    ready(second, 'c.example');
    assert.deepEqual([first.sent, second.sent], [['m1 a.example 0'], ['m2 c.example 0']]);
  });

  test('the queue is bounded: past it stanzas bounce with resource-constraint', () => {
    const { destination, bounced } = setUp({ queueMax: 2 });
    for (const id of ['m1', 'm2', 'm3']) destination.send(message(id), 'a.example');
    assert.deepEqual(bounced, [`m3 resource-constraint: too many stanzas waiting for ${REMOTE}`]);
  });

  test('no connection: what waits bounces with its error, and the domain backs off', async () => {
    const { destination, attempts, bounced } = setUp();
    destination.send(message('m1'), 'a.example');
    attempts.shift()!(new StanzaError('remote-server-not-found', 'no XMPP server'));
    await new Promise((resolve) => setImmediate(resolve));
    destination.send(message('m2'), 'a.example');
    assert.equal(attempts.length, 0, 'no new attempt before the backoff ends');
    assert.equal(bounced[0], 'm1 remote-server-not-found: no XMPP server');
    assert.match(bounced[1]!, /^m2 remote-server-not-found: no XMPP server \(next attempt in 5 s\)$/);
  });

  test('a pair refused on a connection opened for another local domain gets a connection of its own; refused there, it bounces', async () => {
    const { destination, connected, ready, bounced, own } = setUp();
    destination.send(message('m1'), 'a.example');
    destination.send(message('m2', 'c.example'), 'c.example');
    const shared = await connected();
    assert.deepEqual(shared.requested, ['a.example', 'c.example']);
    destination.pairFailed(shared as unknown as ServerConnection, 'c.example', new StanzaError('remote-server-timeout', 'not-authorized'));
    ready(shared);
    assert.deepEqual([bounced, shared.sent, own], [[], ['m1 a.example 0'], ['c.example']], 'nothing bounces: a connection of its own is opened');
    const second = await connected(new FakeConnection('c.example'));
    assert.deepEqual(second.requested, ['c.example']);
    ready(second, 'c.example');
    assert.deepEqual(second.sent, ['m2 c.example 0']);
    destination.send(message('m3', 'c.example'), 'c.example');
    assert.deepEqual(second.sent.at(-1), 'm3 c.example 0');
    // Once refused on the shared connection, the local domain goes to its own connection at once.
    destination.send(message('m4', 'e.example'), 'e.example');
    destination.pairFailed(shared as unknown as ServerConnection, 'e.example', new StanzaError('remote-server-timeout', 'not-authorized'));
    const third = await connected(new FakeConnection('e.example'));
    destination.pairFailed(third as unknown as ServerConnection, 'e.example', new StanzaError('internal-server-error', 'refused'));
    assert.deepEqual(bounced, ['m4 internal-server-error: refused']);
  });

  test('a connection of its own that drops leaves the other pairs alone', async () => {
    const { destination, connected, ready, bounced, attempts } = setUp();
    destination.send(message('m1'), 'a.example');
    const shared = await connected();
    ready(shared);
    destination.send(message('m2', 'c.example'), 'c.example');
    destination.pairFailed(shared as unknown as ServerConnection, 'c.example', new StanzaError('remote-server-timeout', 'not-authorized'));
    const mine = await connected(new FakeConnection('c.example'));
    destination.closed(mine as unknown as ServerConnection, new StanzaError('remote-server-timeout', 'gone'), []);
    assert.deepEqual(bounced, ['m2 remote-server-timeout: gone']);
    destination.send(message('m3'), 'a.example');
    assert.deepEqual(shared.sent, ['m1 a.example 0', 'm3 a.example 0']);
    assert.equal(attempts.length, 0);
  });

  test('what a dropped connection did not confirm is sent once more on a new one, then bounces', async () => {
    const { destination, hops, connected, ready, bounced, attempts } = setUp();
    destination.send(message('m1'), 'a.example');
    const first = await connected();
    ready(first);
    const lost = (id: string, resends: number) => ({ stanza: message(id), pair: { local: 'a.example', remote: REMOTE }, resends });
    destination.closed(first as unknown as ServerConnection, new StanzaError('remote-server-timeout', 'gone'), [lost('m1', 0)]);
    assert.equal(attempts.length, 1, 'a new connection is asked for');
    const second = await connected();
    ready(second);
    assert.deepEqual(second.sent, ['m1 a.example 1']);
    destination.closed(second as unknown as ServerConnection, new StanzaError('remote-server-timeout', 'gone'), [lost('m1', 1)]);
    assert.match(bounced[0]!, /^m1 remote-server-timeout: the connection to b\.example was lost twice/);
    assert.deepEqual(hops.resends, { resent: 1, bounced: 1 });
  });

  test('idle once nothing waits and no connection is in use; a failing domain only after its backoff is long over', async () => {
    const { destination, attempts, connected, ready } = setUp();
    assert.equal(destination.idle(Date.now()), true);
    destination.send(message('m1'), 'a.example');
    assert.equal(destination.idle(Date.now()), false, 'connecting');
    const connection = await connected();
    ready(connection);
    assert.equal(destination.idle(Date.now()), false, 'a connection in use');
    destination.closed(connection as unknown as ServerConnection, new StanzaError('remote-server-timeout', 'gone'), []);
    assert.equal(destination.idle(Date.now()), true);
    const failing = setUp();
    failing.destination.send(message('m2'), 'a.example');
    failing.attempts.shift()!(new StanzaError('remote-server-timeout', 'unreachable'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(failing.destination.idle(Date.now()), false, 'backing off');
    assert.equal(failing.destination.idle(Date.now() + 66_000), true);
    assert.equal(attempts.length, 0);
  });

  test('verifications wait for the connection, bounded, and fail with it', async () => {
    const { destination, attempts, connected } = setUp();
    const first = destination.verify('a.example', 'id-0', 'key');
    const waiting = Array.from({ length: MAX_PENDING_VERIFIES - 1 }, (_, n) => destination.verify('a.example', `id-${n + 1}`, 'key'));
    assert.equal(await destination.verify('a.example', 'one-more', 'key'), 'busy');
    const connection = await connected();
    assert.deepEqual(connection.requested, ['a.example'], 'the receiving domain is asked for as a pair too');
    assert.equal(await first, 'valid');
    assert.equal((await Promise.all(waiting)).length, MAX_PENDING_VERIFIES - 1);
    const other = setUp();
    const failing = other.destination.verify('a.example', 'id', 'key');
    other.attempts.shift()!(new StanzaError('remote-server-timeout', 'unreachable'));
    assert.equal(await failing, 'error');
    assert.equal(attempts.length, 0);
  });
});
