/**
 * SCRAM keys in an export (XEP-0227 version 1.1, `<scram-credentials/>` in urn:xmpp:pie:0#scram):
 * what another server stored in place of a password, so that its users keep logging in with
 * their old passwords. One element per hash: `mechanism` names it; `iter-count`, `salt`,
 * `server-key` and `stored-key` (RFC 5802 section 3) are base64 of the bytes.
 */
import { digestLength, type ScramHash } from '../auth/scram.ts';
import type { ScramVerifier, StoredCredentials } from '../storage/types.ts';
import { el, type Element } from '../xml/element.ts';

export const NS_PIE_SCRAM = 'urn:xmpp:pie:0#scram';

const MECHANISMS: Record<string, { key: keyof StoredCredentials; hash: ScramHash }> = {
  'SCRAM-SHA-1': { key: 'SCRAM-SHA-1', hash: 'SHA-1' },
  'SCRAM-SHA-256': { key: 'SCRAM-SHA-256', hash: 'SHA-256' },
};

/** Iteration counts beyond this would let a file make every login cost minutes. */
const MAX_ITERATIONS = 10_000_000;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export class CredentialsError extends Error {}

/**
 * The verifier of one `<scram-credentials/>`, or undefined for a mechanism this server does not
 * offer (the caller reports it). Throws CredentialsError when a field is missing or malformed.
 */
export function readScramCredentials(element: Element): { mechanism: string; key?: keyof StoredCredentials; verifier?: ScramVerifier } {
  const mechanism = element.attrs.mechanism ?? '';
  const known = MECHANISMS[mechanism];
  if (known === undefined) return { mechanism };
  const field = (name: string): string => {
    const text = element.getChildText(name, NS_PIE_SCRAM)?.trim();
    if (text === undefined || text === '') throw new CredentialsError(`${mechanism} credentials without <${name}/>`);
    return text;
  };
  const iterations = Number(field('iter-count'));
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new CredentialsError(`${mechanism} credentials with iter-count ${field('iter-count')} (1 to ${MAX_ITERATIONS})`);
  }
  const size = digestLength(known.hash);
  let serverKey = decodeBase64(field('server-key'), mechanism, 'server-key');
  let storedKey = decodeBase64(field('stored-key'), mechanism, 'stored-key');
  let salt = decodeBase64(field('salt'), mechanism, 'salt');
  // COMPAT(ejabberd): ejabberd 23.01's export_piefxis writes each field base64-encoded twice
  // (the base64 text it stores, encoded again). Keys of the wrong size that are base64 text of
  // the right size are that; then the salt was encoded twice too.
  if (serverKey.length !== size && storedKey.length !== size && isBase64Of(serverKey, size) && isBase64Of(storedKey, size)) {
    serverKey = Buffer.from(serverKey.toString('latin1'), 'base64');
    storedKey = Buffer.from(storedKey.toString('latin1'), 'base64');
    if (BASE64.test(salt.toString('latin1'))) salt = Buffer.from(salt.toString('latin1'), 'base64');
  }
  if (serverKey.length !== size || storedKey.length !== size) {
    throw new CredentialsError(`${mechanism} keys must be ${size} bytes (server-key has ${serverKey.length}, stored-key ${storedKey.length})`);
  }
  if (salt.length === 0) throw new CredentialsError(`${mechanism} credentials with an empty salt`);
  return {
    mechanism,
    key: known.key,
    verifier: { salt: salt.toString('base64'), iterations, storedKey: storedKey.toString('base64'), serverKey: serverKey.toString('base64') },
  };
}

/** The `<scram-credentials/>` elements of an account's verifiers, SHA-1 first. */
export function scramCredentialsElements(credentials: StoredCredentials): Element[] {
  const elements: Element[] = [];
  for (const [mechanism, { key }] of Object.entries(MECHANISMS)) {
    const verifier = credentials[key];
    if (verifier === undefined) continue;
    elements.push(
      el(
        'scram-credentials',
        NS_PIE_SCRAM,
        { mechanism },
        el('iter-count', NS_PIE_SCRAM, {}, String(verifier.iterations)),
        el('salt', NS_PIE_SCRAM, {}, verifier.salt),
        el('server-key', NS_PIE_SCRAM, {}, verifier.serverKey),
        el('stored-key', NS_PIE_SCRAM, {}, verifier.storedKey),
      ),
    );
  }
  return elements;
}

function decodeBase64(text: string, mechanism: string, field: string): Buffer {
  if (!BASE64.test(text) || text.length % 4 !== 0) throw new CredentialsError(`${mechanism} <${field}/> is not base64`);
  return Buffer.from(text, 'base64');
}

function isBase64Of(bytes: Buffer, size: number): boolean {
  const text = bytes.toString('latin1');
  return BASE64.test(text) && text.length % 4 === 0 && Buffer.from(text, 'base64').length === size;
}
