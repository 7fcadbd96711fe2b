/** Server side of the PLAIN mechanism (RFC 4616); the stream layer only offers it over TLS. */
import { PrecisError } from '../jid/precis.ts';
import type { SaslContext, SaslServerExchange, SaslStep } from './sasl.ts';
import { DEFAULT_SCRAM_ITERATIONS, fakeScramVerifier, passwordMatches } from './scram.ts';
import { failure, isOwnBareJid, prepareUsername } from './sasl-common.ts';
import { decodeMessage, ScramSyntaxError } from './scram-syntax.ts';

/** RFC 4616 section 2: each of the three fields is at most 255 octets. */
const MAX_FIELD_BYTES = 255;

export class PlainServerExchange implements SaslServerExchange {
  readonly #context: SaslContext;
  #phase: 'initial' | 'awaiting-response' | 'done' = 'initial';

  constructor(context: SaslContext) {
    this.#context = context;
  }

  async step(response: Buffer): Promise<SaslStep> {
    // An empty initial response asks for an empty challenge (RFC 6120 section 6.4.2).
    if (this.#phase === 'initial' && response.length === 0) {
      this.#phase = 'awaiting-response';
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    if (this.#phase === 'done') return failure('malformed-request', 'the exchange is already finished');
    this.#phase = 'done';
    return this.#verify(response);
  }

  /** message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 section 2). */
  async #verify(response: Buffer): Promise<SaslStep> {
    const fields = splitFields(response);
    if (fields === undefined) return failure('malformed-request', 'expected authzid, authcid and password separated by NUL');
    const [authzid, authcid, password] = fields;
    if (authcid.length === 0 || password.length === 0) return failure('malformed-request', 'empty authentication identity or password');

    const username = prepareUsername(authcid);
    if (username === undefined) return failure('not-authorized');
    if (authzid !== '' && !isOwnBareJid(authzid, username, this.#context.domain)) {
      return failure('invalid-authzid', 'the authorization identity must be your own bare JID');
    }
    let matches: boolean;
    try {
      const credentials = await this.#context.lookup(username);
      // Unknown users are checked against a fake verifier so both cases take the same time.
      const iterations = this.#context.scramIterations ?? DEFAULT_SCRAM_ITERATIONS;
      // An account imported with another server's SCRAM-SHA-1 keys only (XEP-0227) is checked against those.
      const [hash, verifier] = credentials?.['SCRAM-SHA-256'] !== undefined ? (['SHA-256', credentials['SCRAM-SHA-256']] as const)
        : credentials?.['SCRAM-SHA-1'] !== undefined ? (['SHA-1', credentials['SCRAM-SHA-1']] as const)
        : (['SHA-256', fakeScramVerifier('SHA-256', username, iterations)] as const);
      matches = (await passwordMatches(password, hash, verifier).catch(rejectInvalidPassword)) && credentials !== undefined;
    } catch {
      return failure('temporary-auth-failure');
    }
    return matches ? { kind: 'success', username } : failure('not-authorized');
  }
}

function splitFields(response: Buffer): [string, string, string] | undefined {
  const nul1 = response.indexOf(0);
  const nul2 = nul1 < 0 ? -1 : response.indexOf(0, nul1 + 1);
  if (nul2 < 0 || response.indexOf(0, nul2 + 1) >= 0) return undefined;
  const parts = [response.subarray(0, nul1), response.subarray(nul1 + 1, nul2), response.subarray(nul2 + 1)];
  if (parts.some((part) => part.length > MAX_FIELD_BYTES)) return undefined;
  try {
    const [authzid, authcid, password] = parts.map(decodeMessage);
    return [authzid!, authcid!, password!];
  } catch (error) {
    if (error instanceof ScramSyntaxError) return undefined;
    throw error;
  }
}

/** A password that is not a valid OpaqueString can never have been set. */
function rejectInvalidPassword(error: unknown): false {
  if (error instanceof PrecisError) return false;
  throw error;
}
