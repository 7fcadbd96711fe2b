/**
 * Console logins with an admin's XMPP password: checked by the same code as a client's SASL
 * PLAIN login (src/auth/plain.ts, against the stored SCRAM verifier, an unknown account against a
 * fake one so that both take the same time), and throttled by the same counters (src/limits/
 * login-throttle.ts), so that the console is no second door for guessing: failures here and on
 * client streams add up per address and per account, and a blocked address or account is
 * refused without its password being checked.
 */
import { PlainServerExchange } from '../auth/plain.ts';
import type { StoredCredentials } from '../storage/types.ts';
import { parseJid, type Jid } from '../jid/jid.ts';
import type { LoginThrottle } from '../limits/login-throttle.ts';
import { addressKey } from '../policy/address-key.ts';
import type { Logger } from '../util/log.ts';

export interface LoginChecks {
  /** the stored credentials of an account */
  credentials(domain: string, username: string): Promise<StoredCredentials | undefined>;
  scramIterations: number;
  /** the admins now (a reload may change them) */
  admins(): readonly string[];
  throttle: Pick<LoginThrottle, 'blockFor' | 'recordFailure' | 'recordSuccess' | 'refused'>;
  logger: Logger;
}

export type LoginResult = { ok: true; admin: string } | { ok: false; status: 401 | 429; error: string; retryAfterSeconds?: number };

const WRONG = 'wrong address or password, or not an administrator';
const MAX_PASSWORD_BYTES = 1024;

export async function checkAdminLogin(checks: LoginChecks, address: string, account: string, password: string): Promise<LoginResult> {
  let jid: Jid;
  try {
    jid = parseJid(account.trim());
  } catch {
    return { ok: false, status: 401, error: WRONG };
  }
  if (jid.local === undefined || jid.resource !== undefined || password === '' || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return { ok: false, status: 401, error: WRONG };
  const key = addressKey(address);
  const bare = jid.toString();
  const block = checks.throttle.blockFor(key, bare);
  if (block) {
    checks.throttle.refused(block.scope, key, bare, block.until);
    const retryAfterSeconds = Math.max(1, Math.ceil((block.until - Date.now()) / 1000));
    return { ok: false, status: 429, error: `too many failed logins; try again in ${retryAfterSeconds} s`, retryAfterSeconds };
  }
  // RFC 4616 section 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
  const exchange = new PlainServerExchange({ domain: jid.domain, lookup: (username) => checks.credentials(jid.domain, username), scramIterations: checks.scramIterations });
  const step = await exchange.step(Buffer.from(`\u0000${jid.local}\u0000${password}`, 'utf8'));
  if (step.kind === 'success' && checks.admins().includes(bare)) {
    checks.throttle.recordSuccess(key, bare);
    checks.logger.info('console login', { admin: bare, address });
    return { ok: true, admin: bare };
  }
  checks.throttle.recordFailure(key, bare);
  checks.logger.warn('console login failed', { account: bare, address, reason: step.kind === 'success' ? 'not an administrator' : 'wrong password or no such account' });
  return { ok: false, status: 401, error: WRONG };
}
