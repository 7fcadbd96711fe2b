/**
 * Client side of SCRAM (RFC 5802 section 5) for the load generator, with SaltedPassword cached
 * per (hash, password, salt, iteration count). RFC 5802 section 5.1 lets a client store
 * SaltedPassword instead of the password; real clients do so that a login costs no PBKDF2 once
 * the salt is known. The benchmark does the same for every server alike, so that login rates
 * measure the servers and not the generator's key derivation on a shared 2-core machine.
 */
import { randomBytes } from 'node:crypto';
import { clientKeyOf, digest, hmac, saltPassword, sameBytes, serverKeyOf, xor, type ScramHash } from '../../src/auth/scram.ts';
import { decodeBase64, decodeMessage, encodeSaslName, expectAttribute, parseAttributes, parseIterationCount } from '../../src/auth/scram-syntax.ts';

/** One process-wide cache: SaltedPassword by hash, password, salt and iteration count. */
const saltedPasswords = new Map<string, Buffer>();
let derivations = 0;

/** How many PBKDF2 derivations this process has run (cache misses). */
export function saltedPasswordDerivations(): number {
  return derivations;
}

async function cachedSaltPassword(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const key = `${hash}\u0000${iterations}\u0000${salt.toString('base64')}\u0000${password}`;
  const cached = saltedPasswords.get(key);
  if (cached) return cached;
  derivations++;
  const salted = await saltPassword(password, hash, salt, iterations);
  saltedPasswords.set(key, salted);
  return salted;
}

export class CachedScramClient {
  readonly #hash: ScramHash;
  readonly #password: string;
  readonly #clientFirstBare: string;
  readonly #clientNonce = randomBytes(18).toString('base64');
  #expectedServerSignature: Buffer | undefined;

  constructor(hash: ScramHash, username: string, password: string) {
    this.#hash = hash;
    this.#password = password;
    this.#clientFirstBare = `n=${encodeSaslName(username)},r=${this.#clientNonce}`;
  }

  /** client-first-message with gs2-header "n,," (no channel binding, no authzid). */
  firstMessage(): Buffer {
    return Buffer.from(`n,,${this.#clientFirstBare}`, 'utf8');
  }

  /** Reads server-first-message and derives (or finds) SaltedPassword; the exchange can stop here. */
  async learnSalt(serverFirstData: Buffer): Promise<{ serverFirst: string; nonce: string; saltedPassword: Buffer }> {
    const serverFirst = decodeMessage(serverFirstData);
    const attributes = parseAttributes(serverFirst);
    const nonce = expectAttribute(attributes, 0, 'r');
    if (!nonce.startsWith(this.#clientNonce) || nonce.length === this.#clientNonce.length) throw new Error('server nonce does not extend the client nonce');
    const salt = decodeBase64(expectAttribute(attributes, 1, 's'), 'salt');
    const iterations = parseIterationCount(expectAttribute(attributes, 2, 'i'));
    return { serverFirst, nonce, saltedPassword: await cachedSaltPassword(this.#hash, this.#password, salt, iterations) };
  }

  /** Answers server-first-message with client-final-message (RFC 5802 section 3). */
  async finalMessage(serverFirstData: Buffer): Promise<Buffer> {
    const hash = this.#hash;
    const { serverFirst, nonce, saltedPassword } = await this.learnSalt(serverFirstData);
    // c= is base64 of the gs2-header "n,,"
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = clientKeyOf(hash, saltedPassword);
    const proof = xor(clientKey, hmac(hash, digest(hash, clientKey), authMessage));
    this.#expectedServerSignature = hmac(hash, serverKeyOf(hash, saltedPassword), authMessage);
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Checks server-final-message: the server proves it knew the verifier. */
  verifyServerFinal(serverFinalData: Buffer): void {
    const attributes = parseAttributes(decodeMessage(serverFinalData));
    if (attributes[0]?.name === 'e') throw new Error(`server reported ${attributes[0].value}`);
    const signature = decodeBase64(expectAttribute(attributes, 0, 'v'), 'server signature');
    if (!this.#expectedServerSignature || !sameBytes(signature, this.#expectedServerSignature)) throw new Error('server signature does not match');
  }
}
