/**
 * Server side of a SCRAM exchange (RFC 5802 section 5, RFC 7677), with channel binding for the
 * -PLUS variants (section 6) and the XEP-0474 downgrade protection hash.
 */
import { pooledRandomBytes } from '../util/random-pool.ts';
import { downgradeProtectionHash } from './scram-downgrade.ts';
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
  /** what c= must carry: the GS2 header, then the channel binding data when the client bound */
  expectedBinding: Buffer;
  clientFirstBare: string;
  serverFirst: string;
  nonce: string;
  username: string;
  verifier: ScramVerifier;
}

type State = { phase: 'initial' } | { phase: 'awaiting-first' } | ({ phase: 'awaiting-final' } & AwaitingFinal) | { phase: 'done' };

export class ScramServerExchange implements SaslServerExchange {
  readonly #hash: ScramHash;
  /** a -PLUS mechanism: the client must bind to the channel */
  readonly #plus: boolean;
  readonly #context: SaslContext;
  readonly #serverNonce: string;
  #state: State = { phase: 'initial' };

  constructor(hash: ScramHash, plus: boolean, context: SaslContext, options: SaslServerOptions) {
    this.#hash = hash;
    this.#plus = plus;
    this.#context = context;
    this.#serverNonce = options.serverNonce ?? pooledRandomBytes(SERVER_NONCE_BYTES).toString('base64');
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
    const binding = this.#channelBinding(flag);
    if ('kind' in binding) return binding;
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
    let serverFirst = `r=${nonce},s=${verifier.salt},i=${verifier.iterations}`;
    // XEP-0474 section 5.1: the advertised lists' hash, an optional attribute RFC 5802 section 5.1 allows.
    const advertised = this.#context.advertised;
    if (advertised) serverFirst += `,h=${downgradeProtectionHash(this.#hash, advertised)}`;
    const gs2Header = text.slice(0, headerEnd + 1);
    const expectedBinding = Buffer.concat([Buffer.from(gs2Header, 'utf8'), binding.data]);
    this.#state = { phase: 'awaiting-final', gs2Header, expectedBinding, clientFirstBare, serverFirst, nonce, username, verifier };
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  /** client-final-message = channel-binding "," nonce ["," extensions] "," proof (RFC 5802 section 7). */
  #clientFinal(response: Buffer, state: AwaitingFinal): SaslStep {
    const text = decodeMessage(response);
    const attributes = parseAttributes(text);
    const channelBinding = decodeBase64(expectAttribute(attributes, 0, 'c'), 'channel binding');
    const nonce = expectAttribute(attributes, 1, 'r');
    const proof = decodeBase64(expectAttribute(attributes, attributes.length - 1, 'p'), 'proof');
    // c= carries the GS2 header of the first message, then the channel's binding data when the
    // client bound (RFC 5802 section 7: cbind-input); other data means another TLS channel.
    if (!sameBytes(channelBinding, state.expectedBinding)) {
      if (state.expectedBinding.length > state.gs2Header.length) return failure('not-authorized', 'channel binding data does not match this connection');
      throw new ScramSyntaxError('channel binding data does not match the GS2 header');
    }
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

  /**
   * gs2-cbind-flag (RFC 5802 sections 6 and 7): "p=type" binds, and only -PLUS mechanisms
   * bind; "y" says the client could bind but thinks the server cannot, which is a downgrade when
   * this stream offers -PLUS; "n" says the client cannot bind.
   */
  #channelBinding(flag: string): { data: Buffer } | SaslStep {
    const bindings = this.#context.channelBindings;
    if (flag.startsWith('p=')) {
      if (!this.#plus) return failure('malformed-request', 'channel binding needs a -PLUS mechanism');
      const type = flag.slice(2);
      const data = bindings?.data(type);
      if (data === undefined) {
        return failure('malformed-request', `channel binding type ${JSON.stringify(type.slice(0, 32))} is not supported here; see the advertised types (XEP-0440)`);
      }
      return { data };
    }
    if (flag !== 'n' && flag !== 'y') throw new ScramSyntaxError('invalid channel binding flag');
    if (this.#plus) return failure('malformed-request', 'a -PLUS mechanism needs channel binding ("p=")');
    if (flag === 'y' && bindings !== undefined && bindings.types.length > 0) return failure('not-authorized', 'server-does-support-channel-binding');
    return { data: Buffer.alloc(0) };
  }
}
