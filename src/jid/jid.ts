/**
 * XMPP addresses (RFC 7622): parsing, preparation of each part, and comparison.
 */
import { BoundedCache } from './bounded-cache.ts';
import { prepareDomain } from './domain.ts';
import { JidMalformedError, MAX_RAW_PART_LENGTH } from './errors.ts';
import { prepareLocalpart, prepareResource } from './parts.ts';

export { JidMalformedError } from './errors.ts';
export { prepareDomain } from './domain.ts';
export { prepareLocalpart, prepareResource } from './parts.ts';

/** An address whose parts are all prepared; two Jids are equal when their strings are. */
export class Jid {
  readonly local: string | undefined;
  readonly domain: string;
  readonly resource: string | undefined;
  readonly #text: string;
  /** the bare form, made on first use: lookups by bare JID (sessions, block lists) then reuse one string */
  #bare: Jid | undefined;

  /** Parts must already be prepared: build Jids with parseJid or makeJid. */
  constructor(local: string | undefined, domain: string, resource: string | undefined) {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
    const bare = local === undefined ? domain : `${local}@${domain}`;
    this.#text = resource === undefined ? bare : `${bare}/${resource}`;
  }

  toString(): string {
    return this.#text;
  }

  toJSON(): string {
    return this.#text;
  }

  /** The address without its resourcepart (RFC 6120 section 1.4 "bare JID"). */
  bare(): Jid {
    if (this.resource === undefined) return this;
    return (this.#bare ??= new Jid(this.local, this.domain, undefined));
  }

  withoutResource(): Jid {
    return this.bare();
  }

  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, prepareResource(resource));
  }

  isBare(): boolean {
    return this.resource === undefined;
  }

  /** True for a server or component address: no localpart and no resourcepart. */
  isDomain(): boolean {
    return this.local === undefined && this.resource === undefined;
  }

  equals(other: Jid): boolean {
    return this.#text === other.#text;
  }
}

const jidCache = new BoundedCache<Jid>(10_000);

/** Three parts plus two separators: longer input cannot become a valid address. */
const MAX_RAW_JID_LENGTH = 3 * MAX_RAW_PART_LENGTH + 2;

function quote(input: string): string {
  return JSON.stringify(input.length > 64 ? `${input.slice(0, 64)}...` : input);
}

/**
 * Parses and prepares an address (RFC 7622 section 3.1): the resourcepart is everything after
 * the first '/', and the localpart is everything before the first '@' that precedes it.
 */
export function parseJid(input: string): Jid {
  const cached = jidCache.get(input);
  if (cached !== undefined) return cached;
  if (input.length > MAX_RAW_JID_LENGTH) throw new JidMalformedError(`address ${quote(input)} is too long`);
  const slash = input.indexOf('/');
  const beforeResource = slash === -1 ? input : input.slice(0, slash);
  const at = beforeResource.indexOf('@');
  let jid: Jid;
  try {
    jid = makeJid(
      at === -1 ? undefined : beforeResource.slice(0, at),
      at === -1 ? beforeResource : beforeResource.slice(at + 1),
      slash === -1 ? undefined : input.slice(slash + 1),
    );
  } catch (error) {
    if (error instanceof JidMalformedError) {
      throw new JidMalformedError(`invalid address ${quote(input)}: ${error.message}`, { cause: error });
    }
    throw error;
  }
  jidCache.set(input, jid);
  return jid;
}

export function tryParseJid(input: string): Jid | undefined {
  try {
    return parseJid(input);
  } catch (error) {
    if (error instanceof JidMalformedError) return undefined;
    throw error;
  }
}

/** Builds an address from unprepared parts; an empty localpart or resourcepart is an error. */
export function makeJid(local: string | undefined, domain: string, resource?: string): Jid {
  return new Jid(
    local === undefined ? undefined : prepareLocalpart(local),
    prepareDomain(domain),
    resource === undefined ? undefined : prepareResource(resource),
  );
}
