/**
 * What an entity's capabilities (XEP-0115) say it supports. A `<c/>` in presence names a hash
 * of the entity's disco#info; the server asks the entity for that disco#info once (section 6.3),
 * checks the hash (section 5.4), and keeps the answer by hash for everyone who sends it, in a
 * bounded cache. Queries waiting for answers are bounded too, and time out.
 */
import { randomUUID } from 'node:crypto';
import type { Jid } from '../../jid/jid.ts';
import { el, NS_CLIENT, type Element } from '../../xml/element.ts';
import { NS_DATA_FORMS } from '../../xml/namespaces.ts';
import { capsHash, NS_CAPS, type CapsForm, type CapsInput } from '../disco/caps.ts';
import { NS_DISCO_INFO } from '../disco/host-info.ts';

export interface CapsResolverOptions {
  /** the server's address queries come from (the host's domain) */
  from: string;
  send(stanza: Element): void;
  /** hashes remembered */
  maxEntries: number;
  /** queries waiting for an answer at once; more are not asked */
  maxPending: number;
  timeoutMs: number;
}

interface Pending {
  resolve(features: ReadonlySet<string> | undefined): void;
  /** `node#ver` the answer is cached under when its hash checks out */
  key: string;
  ver: string;
  timer: NodeJS.Timeout;
}

export class CapsResolver {
  readonly #options: CapsResolverOptions;
  /** `node#ver` → features, least recently used first */
  readonly #cache = new Map<string, ReadonlySet<string>>();
  /** IQ id → query */
  readonly #pending = new Map<string, Pending>();
  /** `node#ver` → the answer being waited for, so one query serves everyone sending that hash */
  readonly #inFlight = new Map<string, Promise<ReadonlySet<string> | undefined>>();

  constructor(options: CapsResolverOptions) {
    this.#options = options;
  }

  get cached(): number {
    return this.#cache.size;
  }

  /** The features behind the `<c/>` of a presence from `entity`; undefined when unknown and not learnt. */
  features(entity: Jid, c: Element): Promise<ReadonlySet<string> | undefined> {
    const { node, ver, hash } = c.attrs;
    // Section 4: node, ver and hash are required; only SHA-1 (section 5.1) is checked here.
    if (!node || !ver || hash !== 'sha-1') return Promise.resolve(undefined);
    const key = `${node}#${ver}`;
    const known = this.#cache.get(key);
    if (known) {
      this.#cache.delete(key);
      this.#cache.set(key, known);
      return Promise.resolve(known);
    }
    let answer = this.#inFlight.get(key);
    if (!answer) {
      answer = this.#ask(entity, key, ver);
      this.#inFlight.set(key, answer);
      void answer.then(() => this.#inFlight.delete(key));
    }
    return answer;
  }

  /** The features behind a `<c/>` whose hash was learnt already, without asking anyone; undefined otherwise. */
  known(c: Element): ReadonlySet<string> | undefined {
    const { node, ver, hash } = c.attrs;
    if (!node || !ver || hash !== 'sha-1') return undefined;
    return this.#cache.get(`${node}#${ver}`);
  }

  /** Takes the answer to one of our queries (an IQ result or error to the host); false when it is not one. */
  answer(stanza: Element): boolean {
    const pending = this.#pending.get(stanza.attrs.id ?? '');
    if (!pending) return false;
    this.#pending.delete(stanza.attrs.id!);
    clearTimeout(pending.timer);
    const query = stanza.attrs.type === 'result' ? stanza.getChild('query', NS_DISCO_INFO) : undefined;
    if (!query) {
      pending.resolve(undefined);
      return true;
    }
    const info = capsInputOf(query);
    const features = new Set(info.features);
    // Section 5.4: an answer whose hash differs from `ver` is not cached (it may be forged).
    if (capsHash(info) === pending.ver) this.#remember(pending.key, features);
    pending.resolve(features);
    return true;
  }

  #ask(entity: Jid, key: string, ver: string): Promise<ReadonlySet<string> | undefined> {
    if (this.#pending.size >= this.#options.maxPending) return Promise.resolve(undefined);
    const id = `caps-${randomUUID()}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve(undefined);
      }, this.#options.timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve, key, ver, timer });
      this.#options.send(el('iq', NS_CLIENT, { type: 'get', id, from: this.#options.from, to: entity.toString() }, el('query', NS_DISCO_INFO, { node: key })));
    });
  }

  #remember(key: string, features: ReadonlySet<string>): void {
    this.#cache.set(key, features);
    if (this.#cache.size > this.#options.maxEntries) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

/** The `<c/>` of a presence stanza, if any. */
export function capsOf(presence: Element): Element | undefined {
  return presence.getChild('c', NS_CAPS);
}

/** A disco#info answer as XEP-0115 section 5.1 hashes it. */
export function capsInputOf(query: Element): CapsInput {
  const identities = query.getChildren('identity', NS_DISCO_INFO).map((identity) => ({
    category: identity.attrs.category ?? '',
    type: identity.attrs.type ?? '',
    ...(identity.attrs.name !== undefined ? { name: identity.attrs.name } : {}),
    ...(identity.attrs['xml:lang'] !== undefined ? { lang: identity.attrs['xml:lang'] } : {}),
  }));
  const features = query.getChildren('feature', NS_DISCO_INFO).flatMap((feature) => (feature.attrs.var ? [feature.attrs.var] : []));
  const forms: CapsForm[] = [];
  for (const x of query.getChildren('x', NS_DATA_FORMS)) {
    const fields = x.getChildren('field', NS_DATA_FORMS).map((field) => ({ name: field.attrs.var ?? '', values: field.getChildren('value', NS_DATA_FORMS).map((value) => value.text()) }));
    const formType = fields.find((field) => field.name === 'FORM_TYPE')?.values[0];
    if (formType !== undefined) forms.push({ formType, fields });
  }
  return { identities, features, forms };
}
