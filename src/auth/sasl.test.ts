import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredCredentials } from '../storage/types.ts';
import { createSaslServer, type SaslContext, type SaslMechanismName, type SaslServerExchange, type SaslStep } from './sasl.ts';
import { makeStoredCredentials, type ScramHash } from './scram.ts';
import { ScramClient } from './scram-client.ts';

const ITERATIONS = 64;
const accounts = new Map<string, StoredCredentials>([
  ['juliet', makeStoredCredentials('r0m3o!', ITERATIONS)],
  ['admin', makeStoredCredentials('admin-secret', ITERATIONS)],
  ['\u03c3\u03b1\u03bc', makeStoredCredentials('p\u00e4ss', ITERATIONS)],
  ['a,b=c', makeStoredCredentials('odd', ITERATIONS)],
]);

function context(overrides: Partial<SaslContext> = {}): SaslContext {
  return { domain: 'example.com', lookup: async (username) => accounts.get(username), scramIterations: ITERATIONS, ...overrides };
}

interface ClientInput {
  username: string;
  password: string;
  authzid?: string;
}

async function scramLogin(hash: ScramHash, input: ClientInput, ctx = context()): Promise<{ server: SaslServerExchange; result: SaslStep }> {
  const client = new ScramClient({ hash, ...input });
  const server = createSaslServer(`SCRAM-${hash}`, ctx);
  const first = await server.step(client.firstMessage());
  if (first.kind !== 'challenge') return { server, result: first };
  const result = await server.step(await client.finalMessage(first.data));
  if (result.kind === 'success') client.verifyServerFinal(result.additionalData!);
  return { server, result };
}

function assertFailure(step: SaslStep, condition: string): void {
  assert.equal(step.kind, 'failure', JSON.stringify(step));
  assert.equal(step.kind === 'failure' && step.condition, condition);
}

for (const hash of ['SHA-1', 'SHA-256'] as const) {
  describe(`SCRAM-${hash} exchange`, () => {
    test('succeeds with the right password and reports the prepared username', async () => {
      const { result } = await scramLogin(hash, { username: 'Juliet', password: 'r0m3o!' });
      assert.equal(result.kind, 'success');
      assert.equal(result.kind === 'success' && result.username, 'juliet');
    });

    test('prepares non-ASCII usernames and passwords', async () => {
      const { result } = await scramLogin(hash, { username: '\u03a3\u0391\u039c', password: 'pa\u0308ss' });
      assert.equal(result.kind === 'success' && result.username, '\u03c3\u03b1\u03bc');
    });

    test('decodes =2C and =3D in the username', async () => {
      const { result } = await scramLogin(hash, { username: 'a,b=c', password: 'odd' });
      assert.equal(result.kind === 'success' && result.username, 'a,b=c');
    });

    test('fails with the wrong password', async () => {
      const { result } = await scramLogin(hash, { username: 'juliet', password: 'wrong' });
      assertFailure(result, 'not-authorized');
    });

    test('fails for an unknown user only at the final step, like a wrong password', async () => {
      const client = new ScramClient({ hash, username: 'nobody', password: 'r0m3o!' });
      const server = createSaslServer(`SCRAM-${hash}`, context());
      const first = await server.step(client.firstMessage());
      assert.equal(first.kind, 'challenge');
      const challenge = first.kind === 'challenge' ? first.data.toString() : '';
      assert.match(challenge, new RegExp(`,s=[A-Za-z0-9+/]{22}==,i=${ITERATIONS}$`));
      assertFailure(await server.step(await client.finalMessage(first.data)), 'not-authorized');
      // The same unknown user is offered the same salt each time.
      const again = await createSaslServer(`SCRAM-${hash}`, context()).step(new ScramClient({ hash, username: 'nobody', password: 'x' }).firstMessage());
      assert.equal(again.kind === 'challenge' && again.data.toString().split(',s=')[1], challenge.split(',s=')[1]);
    });

    test('accepts the own bare JID as authzid', async () => {
      const { result } = await scramLogin(hash, { username: 'juliet', password: 'r0m3o!', authzid: 'juliet@EXAMPLE.com' });
      assert.equal(result.kind, 'success');
    });

    for (const authzid of ['admin@example.com', 'juliet@example.com/balcony', 'juliet@other.example', 'example.com', 'not a jid@@']) {
      test(`rejects authzid ${authzid}`, async () => {
        const { result } = await scramLogin(hash, { username: 'juliet', password: 'r0m3o!', authzid });
        assertFailure(result, 'invalid-authzid');
      });
    }

    test('fails every step after success', async () => {
      const { server, result } = await scramLogin(hash, { username: 'juliet', password: 'r0m3o!' });
      assert.equal(result.kind, 'success');
      assertFailure(await server.step(Buffer.from('')), 'malformed-request');
    });

    test('answers an empty initial response with an empty challenge, once', async () => {
      const server = createSaslServer(`SCRAM-${hash}`, context());
      const first = await server.step(Buffer.alloc(0));
      assert.deepEqual(first, { kind: 'challenge', data: Buffer.alloc(0) });
      assertFailure(await server.step(Buffer.alloc(0)), 'malformed-request');
    });

    test('a failed lookup is a temporary failure', async () => {
      const { result } = await scramLogin(hash, { username: 'juliet', password: 'r0m3o!' }, context({ lookup: () => Promise.reject(new Error('db down')) }));
      assertFailure(result, 'temporary-auth-failure');
    });
  });
}

describe('SCRAM client-first-message validation', () => {
  const cases: [string, string, string][] = [
    ['channel binding requested', 'p=tls-unique,,n=juliet,r=abc', 'malformed-request'],
    ['unknown channel binding flag', 'x,,n=juliet,r=abc', 'malformed-request'],
    ['missing GS2 header', 'n=juliet,r=abc', 'malformed-request'],
    ['bad authzid field', 'n,b=x,n=juliet,r=abc', 'malformed-request'],
    ['empty authzid', 'n,a=,n=juliet,r=abc', 'malformed-request'],
    ['missing username', 'n,,r=abc', 'malformed-request'],
    ['missing nonce', 'n,,n=juliet', 'malformed-request'],
    ['empty nonce', 'n,,n=juliet,r=', 'malformed-request'],
    ['bad escape in username', 'n,,n=jul=41iet,r=abc', 'malformed-request'],
    ['dangling = in username', 'n,,n=juliet=,r=abc', 'malformed-request'],
    ['mandatory extension', 'n,,m=ext,n=juliet,r=abc', 'malformed-request'],
    ['attribute without value syntax', 'n,,n=juliet,r=abc,junk', 'malformed-request'],
    ['NUL inside', 'n,,n=jul\u0000iet,r=abc', 'malformed-request'],
    ['username that is no localpart', 'n,,n=jul iet,r=abc', 'not-authorized'],
    ['authzid of another user', 'n,a=admin@example.com,n=juliet,r=abc', 'invalid-authzid'],
  ];
  for (const [name, message, condition] of cases) {
    test(name, async () => {
      assertFailure(await createSaslServer('SCRAM-SHA-256', context()).step(Buffer.from(message)), condition);
    });
  }

  test('accepts the "y" flag, since no -PLUS mechanism is offered', async () => {
    const step = await createSaslServer('SCRAM-SHA-256', context()).step(Buffer.from('y,,n=juliet,r=abc'));
    assert.equal(step.kind, 'challenge');
  });

  test('accepts extensions after the nonce', async () => {
    const step = await createSaslServer('SCRAM-SHA-256', context()).step(Buffer.from('n,,n=juliet,r=abc,x=ext'));
    assert.equal(step.kind, 'challenge');
  });

  test('rejects invalid UTF-8', async () => {
    assertFailure(await createSaslServer('SCRAM-SHA-256', context()).step(Buffer.from([0x6e, 0x2c, 0x2c, 0x6e, 0x3d, 0xff, 0x2c, 0x72, 0x3d, 0x61])), 'malformed-request');
  });

  test('rejects oversized messages', async () => {
    assertFailure(await createSaslServer('SCRAM-SHA-256', context()).step(Buffer.from(`n,,n=juliet,r=${'a'.repeat(10_000)}`)), 'malformed-request');
  });
});

describe('SCRAM client-final-message validation', () => {
  async function afterFirst(gs2Header = 'n,,'): Promise<{ server: SaslServerExchange; nonce: string }> {
    const server = createSaslServer('SCRAM-SHA-256', context(), { serverNonce: 'SERVER' });
    const first = await server.step(Buffer.from(`${gs2Header}n=juliet,r=client`));
    assert.equal(first.kind, 'challenge');
    return { server, nonce: 'clientSERVER' };
  }
  const proof = Buffer.alloc(32).toString('base64');
  const biws = Buffer.from('n,,').toString('base64');
  const cases: [string, (nonce: string) => string][] = [
    ['nonce that differs', () => `c=${biws},r=clientOTHER,p=${proof}`],
    ['nonce without the server part', () => `c=${biws},r=client,p=${proof}`],
    ['channel binding not matching the GS2 header', (nonce) => `c=${Buffer.from('y,,').toString('base64')},r=${nonce},p=${proof}`],
    ['channel binding not base64', (nonce) => `c=biws!,r=${nonce},p=${proof}`],
    ['missing proof', (nonce) => `c=${biws},r=${nonce}`],
    ['proof of the wrong length', (nonce) => `c=${biws},r=${nonce},p=AAAA`],
    ['attributes out of order', (nonce) => `r=${nonce},c=${biws},p=${proof}`],
    ['garbage', () => 'hello'],
  ];
  for (const [name, build] of cases) {
    test(name, async () => {
      const { server, nonce } = await afterFirst();
      assertFailure(await server.step(Buffer.from(build(nonce))), 'malformed-request');
      assertFailure(await server.step(Buffer.from(build(nonce))), 'malformed-request');
    });
  }

  test('a well-formed but wrong proof is not-authorized', async () => {
    const { server, nonce } = await afterFirst();
    assertFailure(await server.step(Buffer.from(`c=${biws},r=${nonce},p=${proof}`)), 'not-authorized');
  });
});

describe('createSaslServer', () => {
  test('creates every mechanism', () => {
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'] as SaslMechanismName[]) {
      assert.equal(typeof createSaslServer(mechanism, context()).step, 'function');
    }
  });
});
