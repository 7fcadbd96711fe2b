/**
 * A full client login over raw XML (STARTTLS, SCRAM, bind), for stream tests that need an
 * authenticated stream and want to see every byte.
 */
import { readFileSync } from 'node:fs';
import { ScramClient } from '../../src/auth/scram-client.ts';
import { RawClient, streamHeader } from './raw-client.ts';
import type { TestServer } from './server.ts';

export interface LoginOptions {
  username: string;
  password: string;
  domain?: string;
  resource?: string;
  hash?: 'SHA-1' | 'SHA-256';
  /** false stops at the post-authentication stream features (for example to resume a session, XEP-0198) */
  bind?: boolean;
}

/** Negotiates STARTTLS and returns the client at the post-TLS stream features. */
export async function connectTls(server: TestServer, domain = 'localhost'): Promise<RawClient> {
  const client = await RawClient.connect(server.port);
  return closedOnFailure(client, async () => {
    client.send(streamHeader(domain));
    await client.waitFor('</stream:features>');
    client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await client.waitFor('<proceed');
    await client.startTls(readFileSync(server.certificateFile(domain)), domain);
    client.send(streamHeader(domain));
    await client.waitFor('</stream:features>');
    return client;
  });
}

/** Logs in and binds a resource; returns the client and the bound full JID. */
export async function login(server: TestServer, options: LoginOptions): Promise<{ client: RawClient; jid: string }> {
  const client = await connectTls(server, options.domain ?? 'localhost');
  return closedOnFailure(client, async () => ({ client, jid: await authenticate(client, options) }));
}

/** Runs `steps` on `client`, closing it when they fail: the caller never gets it, so nobody else would. */
async function closedOnFailure<T>(client: RawClient, steps: () => Promise<T>): Promise<T> {
  try {
    return await steps();
  } catch (error) {
    client.close();
    throw error;
  }
}

/** SCRAM and resource binding on a client that has its stream features; returns the bound JID ('' when not binding). */
export async function authenticate(client: RawClient, options: LoginOptions): Promise<string> {
  const domain = options.domain ?? 'localhost';
  const hash = options.hash ?? 'SHA-256';
  const scram = new ScramClient({ hash, username: options.username, password: options.password });
  client.clear();
  client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-${hash}'>${scram.firstMessage().toString('base64')}</auth>`);
  const challenge = /<challenge[^>]*>([^<]*)<\/challenge>/.exec(await client.waitFor(/<\/challenge>|<failure/))?.[1];
  if (challenge === undefined) throw new Error(`no challenge: ${client.received}`);
  client.clear();
  client.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${(await scram.finalMessage(Buffer.from(challenge, 'base64'))).toString('base64')}</response>`);
  const success = /<success[^>]*>([^<]*)<\/success>/.exec(await client.waitFor(/<\/success>|<failure/))?.[1];
  if (success === undefined) throw new Error(`no success: ${client.received}`);
  scram.verifyServerFinal(Buffer.from(success, 'base64'));
  client.clear();
  client.send(streamHeader(domain));
  await client.waitFor('</stream:features>');
  if (options.bind === false) return '';
  client.clear();
  const resource = options.resource ? `<resource>${options.resource}</resource>` : '';
  client.send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>${resource}</bind></iq>`);
  const jid = /<jid>([^<]+)<\/jid>/.exec(await client.waitFor('</iq>'))?.[1];
  if (!jid) throw new Error(`bind failed: ${client.received}`);
  client.clear();
  return jid;
}
