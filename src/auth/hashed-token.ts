/**
 * Server side of the Hashed Token mechanisms (draft-schmaus-kitten-sasl-ht-08) that FAST logins
 * use (XEP-0484): HT-SHA-256-NONE without channel binding, -UNIQ, -ENDP and -EXPR bound to the
 * TLS channel's `tls-unique`, `tls-server-end-point` and `tls-exporter` data.
 *
 * The client sends `authcid NUL HMAC(token, "Initiator" || cb-data)` and the server answers with
 * `HMAC(token, "Responder" || cb-data)` (section 3.1), one round trip in all.
 *
 * Tokens are issued longer than SHA-256's block (64 bytes), and HMAC replaces such a key by its
 * hash before use (RFC 2104 section 2): so SHA-256(token), which is all storage keeps, is the
 * HMAC key and the token itself never needs to be stored. The hash still logs in for that client
 * until the token expires, so the table deserves the care of the credentials table.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastToken } from '../storage/types.ts';
import type { ChannelBindings } from './channel-binding.ts';
import { failure, prepareUsername } from './sasl-common.ts';
import { hmac, sameBytes } from './scram.ts';
import { decodeMessage, ScramSyntaxError } from './scram-syntax.ts';
import type { SaslServerExchange, SaslStep } from './sasl.ts';

/** The HT mechanisms by the channel-binding data each covers (section 3, "cb-name"). */
export const HASHED_TOKEN_MECHANISMS = {
  'HT-SHA-256-NONE': undefined,
  'HT-SHA-256-UNIQ': 'tls-unique',
  'HT-SHA-256-ENDP': 'tls-server-end-point',
  'HT-SHA-256-EXPR': 'tls-exporter',
} as const;

export type HashedTokenMechanism = keyof typeof HASHED_TOKEN_MECHANISMS;

/** 96 random bytes, 128 characters of base64url: longer than the 64-byte HMAC block. */
const TOKEN_BYTES = 96;
/** Generous bound on the client's message: a localpart (1023 bytes at most) and 32 bytes of HMAC. */
const MAX_MESSAGE_BYTES = 1100;
const HMAC_BYTES = 32;

export function isHashedTokenMechanism(name: string): name is HashedTokenMechanism {
  return Object.hasOwn(HASHED_TOKEN_MECHANISMS, name);
}

/** The HT mechanisms a connection with these bindings can offer, most binding first. */
export function hashedTokenMechanisms(bindings: ChannelBindings | undefined): HashedTokenMechanism[] {
  const bound = (['HT-SHA-256-EXPR', 'HT-SHA-256-UNIQ', 'HT-SHA-256-ENDP'] as const).filter((name) => bindings?.types.includes(HASHED_TOKEN_MECHANISMS[name]));
  return [...bound, 'HT-SHA-256-NONE'];
}

/** A new token to hand to a client, with the hash storage keeps. */
export function newToken(): { token: string; hash: string } {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, hash: tokenHash(token) };
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64');
}

export interface HashedTokenContext {
  /** the mechanism the client chose */
  mechanism: HashedTokenMechanism;
  /** the bindings of the TLS channel (none over a connection without TLS) */
  channelBindings?: ChannelBindings;
  /** the live tokens of the client logging in, for a prepared username (none when blocked or unknown) */
  tokens(username: string): Promise<readonly FastToken[]>;
}

export class HashedTokenServerExchange implements SaslServerExchange {
  readonly #context: HashedTokenContext;
  #done = false;

  constructor(context: HashedTokenContext) {
    this.#context = context;
  }

  async step(response: Buffer): Promise<SaslStep> {
    if (this.#done) return failure('malformed-request', 'the exchange is already finished');
    this.#done = true;
    // Section 3.1: the client's message is its initial response; there is no empty first round.
    if (response.length === 0) return failure('malformed-request', 'HT mechanisms need an initial response');
    if (response.length > MAX_MESSAGE_BYTES) return failure('malformed-request', 'message too long');
    const nul = response.indexOf(0);
    if (nul < 0 || response.length - nul - 1 !== HMAC_BYTES) return failure('malformed-request', 'expected authcid NUL and a 32-byte HMAC');
    let authcid: string;
    try {
      authcid = decodeMessage(response.subarray(0, nul));
    } catch (error) {
      if (error instanceof ScramSyntaxError) return failure('malformed-request', error.message);
      throw error;
    }
    const proof = response.subarray(nul + 1);
    const username = prepareUsername(authcid);
    if (username === undefined) return failure('not-authorized');
    const cbName = HASHED_TOKEN_MECHANISMS[this.#context.mechanism];
    const cbData = cbName === undefined ? Buffer.alloc(0) : this.#context.channelBindings?.data(cbName);
    if (cbData === undefined) return failure('malformed-request', `this connection has no ${cbName} channel binding`);
    let tokens: readonly FastToken[];
    try {
      tokens = await this.#context.tokens(username);
    } catch {
      return failure('temporary-auth-failure');
    }
    // XEP-0484 section 3.4: a token works only with the mechanism it was issued for.
    for (const token of tokens) {
      if (token.mechanism !== this.#context.mechanism) continue;
      const key = Buffer.from(token.hash, 'base64');
      if (!sameBytes(hmac('SHA-256', key, Buffer.concat([Buffer.from('Initiator'), cbData])), proof)) continue;
      return { kind: 'success', username, fastToken: token, additionalData: hmac('SHA-256', key, Buffer.concat([Buffer.from('Responder'), cbData])) };
    }
    return failure('not-authorized');
  }
}
