import { BoundedCache } from './bounded-cache.ts';
import { checkPartLength, checkRawLength, JidMalformedError } from './errors.ts';
import { PrecisError, prepareOpaqueString, prepareUsernameCaseMapped } from './precis.ts';

const CACHE_SIZE = 10_000;
const localpartCache = new BoundedCache<string>(CACHE_SIZE);
const resourceCache = new BoundedCache<string>(CACHE_SIZE);

/** RFC 7622 section 3.3.1: code points the localpart may not contain even though PRECIS allows them. */
const FORBIDDEN_IN_LOCALPART = /["&'/:<>@]/u;

/**
 * Printable ASCII without space: every such code point is PVALID in the IdentifierClass
 * (RFC 8264 section 9.11), needs no width mapping or normalization and has no right-to-left
 * direction, so lowercasing alone gives the UsernameCaseMapped result.
 */
const PLAIN_ASCII_IDENTIFIER = /^[\x21-\x7e]+$/;
/** Printable ASCII with space: already in OpaqueString form (RFC 8265 section 4.2). */
const PLAIN_ASCII_FREEFORM = /^[\x20-\x7e]+$/;

function precis(prepare: (s: string) => string, s: string, partName: string): string {
  try {
    return prepare(s);
  } catch (error) {
    if (error instanceof PrecisError) throw new JidMalformedError(`${partName}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** Localpart preparation: UsernameCaseMapped (RFC 7622 section 3.3.2) plus the exclusions of section 3.3.1. */
export function prepareLocalpart(s: string): string {
  const cached = localpartCache.get(s);
  if (cached !== undefined) return cached;
  if (s.length === 0) throw new JidMalformedError('localpart is empty');
  checkRawLength(s, 'localpart');
  const prepared = PLAIN_ASCII_IDENTIFIER.test(s) ? s.toLowerCase() : precis(prepareUsernameCaseMapped, s, 'localpart');
  const forbidden = FORBIDDEN_IN_LOCALPART.exec(prepared);
  if (forbidden) throw new JidMalformedError(`localpart contains the forbidden character ${forbidden[0]}`);
  checkPartLength(prepared, 'localpart');
  localpartCache.set(s, prepared);
  return prepared;
}

/** Resourcepart preparation: OpaqueString (RFC 7622 section 3.4.2). */
export function prepareResource(s: string): string {
  const cached = resourceCache.get(s);
  if (cached !== undefined) return cached;
  if (s.length === 0) throw new JidMalformedError('resourcepart is empty');
  checkRawLength(s, 'resourcepart');
  const prepared = PLAIN_ASCII_FREEFORM.test(s) ? s : precis(prepareOpaqueString, s, 'resourcepart');
  checkPartLength(prepared, 'resourcepart');
  resourceCache.set(s, prepared);
  return prepared;
}
