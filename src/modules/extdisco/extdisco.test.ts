import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { parseServiceUri } from '../../util/service-uri.ts';
import { servicesElement, turnCredentials } from './extdisco.ts';

describe('external services (XEP-0215)', () => {
  test('STUN and TURN URIs with their default ports and transports (RFC 7064, RFC 7065)', () => {
    assert.deepEqual(parseServiceUri('stun:stun.example.com'), { type: 'stun', host: 'stun.example.com', port: 3478, transport: 'udp' });
    assert.deepEqual(parseServiceUri('turns:turn.example.com'), { type: 'turns', host: 'turn.example.com', port: 5349, transport: 'tcp' });
    assert.deepEqual(parseServiceUri('turn:[2001:db8::1]:3479?transport=tcp'), { type: 'turn', host: '2001:db8::1', port: 3479, transport: 'tcp' });
    for (const bad of ['http://x', 'stun:x?transport=tcp', 'turn:x:99999', 'turn:', 'turn:x?transport=sctp']) assert.throws(() => parseServiceUri(bad), bad);
  });

  test('TURN credentials: "<expiry>:<user>" and base64(HMAC-SHA1(secret, user name))', () => {
    const credentials = turnCredentials('s3cret', 'alice@example.com', 600, 1_700_000_000_000);
    assert.equal(credentials.username, '1700000600:alice@example.com');
    assert.equal(credentials.password, createHmac('sha1', 's3cret').update('1700000600:alice@example.com').digest('base64'));
    assert.equal(credentials.expires.toISOString(), '2023-11-14T22:23:20.000Z');
  });

  test('only TURN services carry credentials, and only with a secret; a type filters', () => {
    const settings = { services: ['stun:a.example', 'turn:a.example'], secret: 'k', credential_lifetime: 60 };
    const all = servicesElement('services', settings, 'bob@example.com', {}, 0).elements();
    assert.deepEqual(all.map((service) => [service.attrs.type, service.attrs.username, service.attrs.restricted]), [['stun', undefined, undefined], ['turn', '60:bob@example.com', '1']]);
    const noSecret = servicesElement('services', { ...settings, secret: undefined }, 'bob@example.com', { type: 'turn' }, 0).elements();
    assert.deepEqual(noSecret.map((service) => [service.attrs.type, service.attrs.password]), [['turn', undefined]]);
  });
});
