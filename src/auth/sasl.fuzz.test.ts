import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParameters } from '../../test/support/fuzz.ts';
import type { StoredCredentials } from '../storage/types.ts';
import { createSaslServer, type SaslContext, type SaslStep } from './sasl.ts';
import { makeStoredCredentials } from './scram.ts';

const ITERATIONS = 16;
const accounts = new Map<string, StoredCredentials>([['juliet', makeStoredCredentials('r0m3o!', ITERATIONS)]]);
const context: SaslContext = { domain: 'example.com', lookup: async (username) => accounts.get(username), scramIterations: ITERATIONS };

const FAILURES = new Set([
  'aborted',
  'account-disabled',
  'credentials-expired',
  'encryption-required',
  'incorrect-encoding',
  'invalid-authzid',
  'invalid-mechanism',
  'malformed-request',
  'mechanism-too-weak',
  'not-authorized',
  'temporary-auth-failure',
]);

function assertFailure(step: SaslStep): void {
  assert.equal(step.kind, 'failure', JSON.stringify(step));
  assert.ok(step.kind === 'failure' && FAILURES.has(step.condition), JSON.stringify(step));
}

/** Text made of the pieces SCRAM messages are built from, so the fuzzer gets past the first checks. */
const scramPiece = fc.oneof(
  fc.constantFrom('n', 'y', 'p=tls-unique', ',', '=', 'a=', 'n=', 'r=', 'c=', 'p=', 'm=', 's=', 'i=', '=2C', '=3D', '=2', 'juliet', 'Juliet', 'biws', 'eSws', '\0', '\u00e9', 'juliet@example.com'),
  fc.base64String({ maxLength: 48 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const scramText = fc.array(scramPiece, { maxLength: 12 }).map((pieces) => pieces.join(''));
const clientFirst = fc.oneof(
  scramText.map((text) => Buffer.from(text)),
  fc.tuple(fc.constantFrom('n,,', 'y,,', 'n,a=juliet@example.com,', 'p=x,,'), scramText).map(([header, bare]) => Buffer.from(header + bare)),
  fc.tuple(fc.constantFrom('juliet', 'romeo', 'Juliet', '=2C', ''), scramText).map(([user, nonce]) => Buffer.from(`n,,n=${user},r=${nonce}`)),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
);

/** A client-final message for the nonce the server sent, or something near it. */
const clientFinal: fc.Arbitrary<(nonce: string) => Buffer> = fc.oneof(
  fc
    .tuple(fc.constantFrom('biws', 'eSws', 'bixh', ''), fc.constantFrom('same', 'longer', 'empty'), scramText, fc.base64String({ maxLength: 64 }))
    .map(([binding, variant, extension, proof]) => (nonce: string) => {
      const r = variant === 'same' ? nonce : variant === 'longer' ? nonce + 'x' : '';
      return Buffer.from(`c=${binding},r=${r}${extension === '' ? '' : ',' + extension},p=${proof}`);
    }),
  scramText.map((text) => () => Buffer.from(text)),
  fc.uint8Array({ maxLength: 96 }).map((bytes) => () => Buffer.from(bytes)),
);

for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-1'] as const) {
  test(`${mechanism}: any client messages get a challenge or a SASL failure, never an exception or a success`, async () => {
    await fc.assert(
      fc.asyncProperty(clientFirst, clientFinal, async (first, makeFinal) => {
        const server = createSaslServer(mechanism, context);
        let step = await server.step(first);
        if (step.kind === 'challenge' && first.length === 0) step = await server.step(Buffer.from('n,,n=juliet,r=abc'));
        if (step.kind === 'failure') return assertFailure(step);
        assert.equal(step.kind, 'challenge', JSON.stringify(step));
        const serverFirst = step.kind === 'challenge' ? step.data.toString('utf8') : '';
        assert.match(serverFirst, /^r=[\x21-\x2b\x2d-\x7e]+,s=[A-Za-z0-9+/=]+,i=\d+$/);
        const final = makeFinal(/^r=([^,]*)/.exec(serverFirst)![1]!);
        assertFailure(await server.step(final));
        assertFailure(await server.step(final));
      }),
      fuzzParameters(100),
    );
  });
}

test('PLAIN: any message gets a SASL failure unless it carries the right password', async () => {
  const plainText = fc.oneof(
    fc.tuple(fc.constantFrom('', 'juliet@example.com', 'x@y', '\u00e9'), fc.constantFrom('juliet', 'Juliet', 'romeo', '', '\u00e9'), scramText).map(
      ([authzid, authcid, password]) => Buffer.from(`${authzid}\0${authcid}\0${password}`),
    ),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    scramText.map((text) => Buffer.from(text)),
  );
  await fc.assert(
    fc.asyncProperty(plainText, async (message) => {
      const server = createSaslServer('PLAIN', context);
      const step = await server.step(message);
      if (message.length === 0) assert.equal(step.kind, 'challenge');
      else if (step.kind === 'success') assert.match(message.toString('utf8'), /^(juliet@example\.com)?\0[Jj]uliet\0r0m3o!$/);
      else assertFailure(step);
      if (step.kind !== 'challenge') assertFailure(await server.step(message));
    }),
    fuzzParameters(100),
  );
});
