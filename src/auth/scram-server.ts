/** Server side of a SCRAM exchange (RFC 5802 section 5, RFC 7677). */
import { randomBytes } from 'node:crypto';
import type { ScramVerifier } from '../storage/types.ts';
import type { SaslContext, SaslServerExchange, SaslServerOptions, SaslStep } from './sasl.ts';
import { failure, isOwnBareJid, prepareUsername } from './sasl-common.ts';
import { DEFAULT_SCRAM_ITERATIONS, digest, digestLength, fakeScramVerifier, hmac, sameBytes, xor, type ScramHash } from './scram.ts';
import {
  checkNonce,
  decodeBase64,
  decodeMessage,
  decodeSaslName,
  expectAttribute,
  parseAttributes,
  ScramSyntaxError,
} from './scram-syntax.ts';

/** Generous bound on either client message; real ones are a few hundred bytes. */
const MAX_MESSAGE_BYTES = 8192;
const SERVER_NONCE_BYTES = 18;

interface AwaitingFinal {
  gs2Header: string;
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
  username: string;
  verifier: ScramVerifier;
}

type State = { phase: 'initial' } | { phase: 'awaiting-first' } | ({ phase: 'awaiting-final' } & AwaitingFinal) | { phase: 'done' };

export class ScramServerExchange implements SaslServerExchange {
  readonly #hash: ScramHash;
  readonly #context: SaslContext;
  readonly #serverNonce: string;
  #state: State = { phase: 'initial' };

  constructor(hash: ScramHash, context: SaslContext, options: SaslServerOptions) {
    this.#hash = hash;
    this.#context = context;
    this.#serverNonce = options.serverNonce ?? randomBytes(SERVER_NONCE_BYTES).toString('base64');
  }

  async step(response: Buffer): Promise<SaslStep> {
    const state = this.#state;
    // An empty initial response asks for an empty challenge (RFC 6120 section 6.4.2).
    if (state.phase === 'initial' && response.length === 0) {
      this.#state = { phase: 'awaiting-first' };
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    this.#state = { phase: 'done' };
    if (state.phase === 'done') return failure('malformed-request', 'the exchange is already finished');
    if (response.length > MAX_MESSAGE_BYTES) return failure('malformed-request', 'message too long');
    try {
      return state.phase === 'awaiting-final' ? this.#clientFinal(response, state) : await this.#clientFirst(response);
    } catch (error) {
      if (error instanceof ScramSyntaxError) return failure('malformed-request', error.message);
      throw error;
    }
  }

  /** client-first-message = gs2-header client-first-message-bare (RFC 5802 section 7). */
  async #clientFirst(response: Buffer): Promise<SaslStep> {
    const text = decodeMessage(response);
    const flagEnd = text.indexOf(',');
    const headerEnd = text.indexOf(',', flagEnd + 1);
    if (flagEnd < 0 || headerEnd < 0) throw new ScramSyntaxError('missing GS2 header');
    const flag = text.slice(0, flagEnd);
    // gs2-cbind-flag: "p=" demands channel binding, which only the -PLUS variants offer
    // (RFC 5802 section 6); "y" and "n" are fine since no -PLUS variant is advertised.
    if (flag.startsWith('p=')) return failure('malformed-request', 'channel binding is not supported by this mechanism');
    if (flag !== 'n' && flag !== 'y') throw new ScramSyntaxError('invalid channel binding flag');
    const authzField = text.slice(flagEnd + 1, headerEnd);
    if (authzField !== '' && !authzField.startsWith('a=')) throw new ScramSyntaxError('invalid authorization identity field');
    const authzid = authzField === '' ? undefined : decodeSaslName(authzField.slice(2));

    const clientFirstBare = text.slice(headerEnd + 1);
    const attributes = parseAttributes(clientFirstBare);
    // "m" is reserved for mandatory extensions, none of which exist (RFC 5802 section 5.1).
    if (attributes[0]?.name === 'm') throw new ScramSyntaxError('unsupported mandatory extension');
    const rawUsername = decodeSaslName(expectAttribute(attributes, 0, 'n'));
    const clientNonce = expectAttribute(attributes, 1, 'r');
    checkNonce(clientNonce);

    const username = prepareUsername(rawUsername);
    if (username === undefined) return failure('not-authorized');
    if (authzid !== undefined && !isOwnBareJid(authzid, username, this.#context.domain)) {
      return failure('invalid-authzid', 'the authorization identity must be your own bare JID');
    }

    let verifier: ScramVerifier;
    try {
      const credentials = await this.#context.lookup(username);
      const iterations = this.#context.scramIterations ?? DEFAULT_SCRAM_ITERATIONS;
      verifier = credentials?.[`SCRAM-${this.#hash}`] ?? fakeScramVerifier(this.#hash, username, iterations);
    } catch {
      return failure('temporary-auth-failure');
    }
    const nonce = clientNonce + this.#serverNonce;
    const serverFirst = `r=${nonce},s=${verifier.salt},i=${verifier.iterations}`;
    this.#state = { phase: 'awaiting-final', gs2Header: text.slice(0, headerEnd + 1), clientFirstBare, serverFirst, nonce, username, verifier };
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  /** client-final-message = channel-binding "," nonce ["," extensions] "," proof (RFC 5802 section 7). */
  #clientFinal(response: Buffer, state: AwaitingFinal): SaslStep {
    const text = decodeMessage(response);
    const attributes = parseAttributes(text);
    const channelBinding = decodeBase64(expectAttribute(attributes, 0, 'c'), 'channel binding');
    const nonce = expectAttribute(attributes, 1, 'r');
    const proof = decodeBase64(expectAttribute(attributes, attributes.length - 1, 'p'), 'proof');
    // Without channel binding, c= carries exactly the GS2 header of the first message.
    if (!sameBytes(channelBinding, Buffer.from(state.gs2Header, 'utf8'))) throw new ScramSyntaxError('channel binding data does not match the GS2 header');
    if (nonce !== state.nonce) throw new ScramSyntaxError('nonce does not match');
    if (proof.length !== digestLength(this.#hash)) throw new ScramSyntaxError('proof has the wrong length');

    const withoutProof = text.slice(0, text.lastIndexOf(','));
    const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`;
    const storedKey = Buffer.from(state.verifier.storedKey, 'base64');
    const clientSignature = hmac(this.#hash, storedKey, authMessage);
    const clientKey = xor(proof, clientSignature);
    if (!sameBytes(digest(this.#hash, clientKey), storedKey)) return failure('not-authorized');

    const serverSignature = hmac(this.#hash, Buffer.from(state.verifier.serverKey, 'base64'), authMessage);
    return { kind: 'success', username: state.username, additionalData: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8') };
  }
}
