/**
 * SCRAM key derivation (RFC 5802 section 3) for SHA-1 and SHA-256 (RFC 7677), and the
 * verifiers stored in place of passwords.
 */
import { createHash, createHmac, createSecretKey, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { prepareOpaqueString } from '../jid/precis.ts';
import type { ScramVerifier, StoredCredentials } from '../storage/types.ts';

export type ScramHash = 'SHA-1' | 'SHA-256';

const NODE_DIGEST: Record<ScramHash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
const DIGEST_BYTES: Record<ScramHash, number> = { 'SHA-1': 20, 'SHA-256': 32 };
const SALT_BYTES = 16;

/** The minimum RFC 7677 section 4 recommends for SCRAM-SHA-256. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
const pbkdf2Async = promisify(pbkdf2);

export function digestLength(hash: ScramHash): number {
  return DIGEST_BYTES[hash];
}

export function hmac(hash: ScramHash, key: Buffer, data: string | Buffer): Buffer {
  // The key as a KeyObject: Node 24's createHmac took 17.6 µs with a Buffer key against 6.5 with
  // this (the key's conversion included; docs/performance.md, "What a login costs").
  return createHmac(NODE_DIGEST[hash], createSecretKey(key)).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(NODE_DIGEST[hash]).update(data).digest();
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Constant-time comparison of two byte strings of possibly different lengths. */
export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Passwords are prepared with the OpaqueString profile (RFC 8265 section 4.2), which
 * replaces SASLprep for SCRAM (RFC 8265 section 1). Throws PrecisError when the password
 * is not a valid OpaqueString.
 */
export function preparePassword(password: string): Buffer {
  return Buffer.from(prepareOpaqueString(password), 'utf8');
}

/** SaltedPassword := Hi(Normalize(password), salt, i), Hi being PBKDF2 with HMAC (RFC 5802 section 2.2). */
export async function saltPassword(password: string, hash: ScramHash, salt: Buffer, iterations: number): Promise<Buffer> {
  return pbkdf2Async(preparePassword(password), salt, iterations, DIGEST_BYTES[hash], NODE_DIGEST[hash]);
}

/** ClientKey := HMAC(SaltedPassword, "Client Key") (RFC 5802 section 3). */
export function clientKeyOf(hash: ScramHash, saltedPassword: Buffer): Buffer {
  return hmac(hash, saltedPassword, 'Client Key');
}

/** ServerKey := HMAC(SaltedPassword, "Server Key") (RFC 5802 section 3). */
export function serverKeyOf(hash: ScramHash, saltedPassword: Buffer): Buffer {
  return hmac(hash, saltedPassword, 'Server Key');
}

/** Derives the stored verifier of a password (RFC 5802 section 3: StoredKey and ServerKey). */
export function makeScramVerifier(password: string, hash: ScramHash, iterations: number, salt: Buffer = randomBytes(SALT_BYTES)): ScramVerifier {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`invalid SCRAM iteration count ${iterations}`);
  const saltedPassword = pbkdf2Sync(preparePassword(password), salt, iterations, DIGEST_BYTES[hash], NODE_DIGEST[hash]);
  return {
    salt: salt.toString('base64'),
    iterations,
    storedKey: digest(hash, clientKeyOf(hash, saltedPassword)).toString('base64'),
    serverKey: serverKeyOf(hash, saltedPassword).toString('base64'),
  };
}

/** Verifiers for every SCRAM hash this server offers, each with its own salt. */
export function makeStoredCredentials(password: string, iterations: number): Required<StoredCredentials> {
  return {
    'SCRAM-SHA-1': makeScramVerifier(password, 'SHA-1', iterations),
    'SCRAM-SHA-256': makeScramVerifier(password, 'SHA-256', iterations),
  };
}

/** Checks a password against a stored verifier by recomputing StoredKey with its salt and iteration count. */
export async function passwordMatches(password: string, hash: ScramHash, verifier: ScramVerifier): Promise<boolean> {
  const saltedPassword = await saltPassword(password, hash, Buffer.from(verifier.salt, 'base64'), verifier.iterations);
  const storedKey = digest(hash, clientKeyOf(hash, saltedPassword));
  return sameBytes(storedKey, Buffer.from(verifier.storedKey, 'base64'));
}

const fakeVerifierSecret = randomBytes(32);

/**
 * A verifier for an account that does not exist. It is derived from a per-process secret
 * and the username, so repeated attempts for one unknown user see the same salt, and the
 * exchange does the same work as for a real account without ever succeeding.
 */
export function fakeScramVerifier(hash: ScramHash, username: string, iterations: number): ScramVerifier {
  const derive = (purpose: string) => hmac(hash, fakeVerifierSecret, `${purpose}\0${hash}\0${username}`);
  return {
    salt: derive('salt').subarray(0, SALT_BYTES).toString('base64'),
    iterations,
    storedKey: derive('stored-key').toString('base64'),
    serverKey: derive('server-key').toString('base64'),
  };
}
