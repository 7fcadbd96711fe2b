/**
 * FAST tokens (XEP-0484) after a successful SASL2 login: invalidating or marking used the token
 * the client logged in with, and issuing a new one when asked for or due (section 3.4).
 * Storage keeps only hashes (src/auth/hashed-token.ts), per account and user-agent id.
 */
import type { C2sConfig } from '../config/types.ts';
import { newToken } from '../auth/hashed-token.ts';
import type { FastToken, FastTokenStore } from '../storage/types.ts';
import type { Element } from '../xml/element.ts';
import { tokenElement, type Sasl2Request } from './sasl2.ts';

export interface FastLogin {
  store: FastTokenStore;
  config: C2sConfig['fast'];
  domain: string;
  username: string;
  request: Sasl2Request;
  /** the token the client logged in with, when it used one */
  used: FastToken | undefined;
  /** the HT mechanisms offered on this stream */
  offered: readonly string[];
  now: number;
}

/** Settles the tokens of one login; returns the <token/> to put in <success/>, if any. */
export async function settleFastTokens(login: FastLogin): Promise<Element | undefined> {
  const { store, config, domain, username, request, used, now } = login;
  const clientId = request.userAgent.id;
  if (used !== undefined) {
    // Section 3.5: invalidated at once; otherwise it is in use, and older tokens of the client end.
    if (request.fast?.invalidate) await store.remove(domain, username, used.hash);
    else await store.used(domain, username, used.clientId, used.hash, now);
  }
  // Section 3.4: a token in the second half of its life is rotated even unasked, unless invalidated.
  const due = used !== undefined && !request.fast?.invalidate && used.expiresAt - now < (config.token_lifetime * 1000) / 2;
  const mechanism = request.requestToken !== undefined && login.offered.includes(request.requestToken) ? request.requestToken : due ? used.mechanism : undefined;
  // Business rules (section 4): tokens are per client, which names itself by its user-agent id.
  if (mechanism === undefined || clientId === undefined || !config.enabled) return undefined;
  const { token, hash } = newToken();
  const expiresAt = now + config.token_lifetime * 1000;
  await store.issue(domain, username, { clientId, mechanism, hash, expiresAt }, config.max_tokens_per_account, now);
  return tokenElement(token, expiresAt);
}
