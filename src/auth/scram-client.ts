/**
 * Client side of a SCRAM exchange (RFC 5802 section 5), binding to the channel for the -PLUS
 * variants (section 6) and checking the XEP-0474 downgrade protection hash when asked to.
 */
import { pooledRandomBytes } from '../util/random-pool.ts';
import type { ChannelBindingType } from './channel-binding.ts';
import { downgradeProtectionHash, type AdvertisedAuthentication } from './scram-downgrade.ts';
import { clientKeyOf, digest, hmac, saltPassword, sameBytes, serverKeyOf, xor, type ScramHash } from './scram.ts';
import {
  checkNonce,
  decodeBase64,
  decodeMessage,
  encodeSaslName,
  expectAttribute,
  parseAttributes,
  parseIterationCount,
  ScramSyntaxError,
} from './scram-syntax.ts';

export interface ScramClientOptions {
  hash: ScramHash;
  /** sent as typed: the server prepares it */
  username: string;
  password: string;
  /** authorization identity, sent as "a=" when present */
  authzid?: string;
  /** fixed client nonce, for reproducing test vectors; random otherwise */
  clientNonce?: string;
  /** binds to the channel ("p=type"), as the -PLUS mechanisms must */
  channelBinding?: { type: ChannelBindingType; data: Buffer };
  /** the GS2 flag without binding: "n" (default), or "y" when the client could bind but saw no -PLUS mechanism */
  bindingFlag?: 'n' | 'y';
  /** XEP-0474: what the server advertised; its hash must match the server's "h" attribute */
  advertised?: AdvertisedAuthentication;
}

/** A server message the client cannot accept: bad syntax, a wrong nonce, or a wrong signature. */
export class ScramClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramClientError';
  }
}

const CLIENT_NONCE_BYTES = 18;

export class ScramClient {
  readonly #options: ScramClientOptions;
  readonly #gs2Header: string;
  readonly #clientFirstBare: string;
  readonly #clientNonce: string;
  #expectedServerSignature: Buffer | undefined;

  constructor(options: ScramClientOptions) {
    this.#options = options;
    this.#clientNonce = options.clientNonce ?? pooledRandomBytes(CLIENT_NONCE_BYTES).toString('base64');
    checkNonce(this.#clientNonce);
    // gs2-header (RFC 5802 section 7): the channel binding flag, then the authorization identity.
    const flag = options.channelBinding ? `p=${options.channelBinding.type}` : (options.bindingFlag ?? 'n');
    this.#gs2Header = options.authzid === undefined ? `${flag},,` : `${flag},a=${encodeSaslName(options.authzid)},`;
    this.#clientFirstBare = `n=${encodeSaslName(options.username)},r=${this.#clientNonce}`;
  }

  /** client-first-message, the initial response of <auth/>. */
  firstMessage(): Buffer {
    return Buffer.from(this.#gs2Header + this.#clientFirstBare, 'utf8');
  }

  /** Answers server-first-message with client-final-message (RFC 5802 section 3). */
  async finalMessage(serverFirstData: Buffer): Promise<Buffer> {
    const { hash, password } = this.#options;
    const { serverFirst, nonce, salt, iterations } = asClientError(() => this.#parseServerFirst(serverFirstData));
    const saltedPassword = await saltPassword(password, hash, salt, iterations);
    const cbindInput = Buffer.concat([Buffer.from(this.#gs2Header, 'utf8'), this.#options.channelBinding?.data ?? Buffer.alloc(0)]);
    const withoutProof = `c=${cbindInput.toString('base64')},r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = clientKeyOf(hash, saltedPassword);
    const proof = xor(clientKey, hmac(hash, digest(hash, clientKey), authMessage));
    this.#expectedServerSignature = hmac(hash, serverKeyOf(hash, saltedPassword), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Checks server-final-message (the additional data of <success/>): proves the server knew the verifier. */
  verifyServerFinal(serverFinalData: Buffer): void {
    const expected = this.#expectedServerSignature;
    if (expected === undefined) throw new ScramClientError('server-final-message before client-final-message');
    const attributes = asClientError(() => parseAttributes(decodeMessage(serverFinalData)));
    if (attributes[0]?.name === 'e') throw new ScramClientError(`server reported ${attributes[0].value}`);
    const signature = asClientError(() => decodeBase64(expectAttribute(attributes, 0, 'v'), 'server signature'));
    if (!sameBytes(signature, expected)) throw new ScramClientError('server signature does not match');
  }

  /** server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions] */
  #parseServerFirst(data: Buffer) {
    const serverFirst = decodeMessage(data);
    const attributes = parseAttributes(serverFirst);
    if (attributes[0]?.name === 'm') throw new ScramClientError('server requires an unsupported extension');
    const nonce = expectAttribute(attributes, 0, 'r');
    const salt = decodeBase64(expectAttribute(attributes, 1, 's'), 'salt');
    const iterations = parseIterationCount(expectAttribute(attributes, 2, 'i'));
    checkNonce(nonce);
    if (!nonce.startsWith(this.#clientNonce) || nonce.length === this.#clientNonce.length) {
      throw new ScramClientError('server nonce does not extend the client nonce');
    }
    // XEP-0474 section 5.2: a hash other than our own means the lists we saw were tampered with.
    const advertised = this.#options.advertised;
    if (advertised) {
      const sent = attributes.slice(3).find((attribute) => attribute.name === 'h')?.value;
      if (sent !== downgradeProtectionHash(this.#options.hash, advertised)) throw new ScramClientError('downgrade protection hash does not match what the server advertised');
    }
    return { serverFirst, nonce, salt, iterations };
  }
}

function asClientError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof ScramSyntaxError) throw new ScramClientError(error.message);
    throw error;
  }
}
