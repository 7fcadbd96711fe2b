/**
 * The console's logins: a random token in a cookie names each, and each has its own CSRF token
 * that every state-changing request must carry in a header (docs/console.md). A login ends after
 * `session_lifetime` however active, after `idle_timeout` without a request, at logout, and when
 * `max_sessions` are held and another admin logs in (the least recently used goes first).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ConsoleConfig } from '../config/types.ts';

export interface ConsoleLogin {
  /** the admin's bare JID */
  readonly admin: string;
  /** the value the X-CSRF-Token header must carry */
  readonly csrf: string;
  readonly createdAt: number;
  lastSeen: number;
}

const TOKEN_BYTES = 32;

export const newToken = (): string => randomBytes(TOKEN_BYTES).toString('base64url');

/** Two tokens compared in constant time; different lengths are simply unequal. */
export function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export class ConsoleSessions {
  readonly #settings: () => ConsoleConfig;
  /** by the SHA-256 of the cookie's token, so that the table holds nothing a cookie could be made from; oldest use first */
  readonly #logins = new Map<string, ConsoleLogin>();

  constructor(settings: () => ConsoleConfig) {
    this.#settings = settings;
  }

  /** A new login for `admin`; the token is the cookie's value. */
  open(admin: string, now = Date.now()): { token: string; login: ConsoleLogin } {
    const max = this.#settings().max_sessions;
    while (this.#logins.size >= max) this.#logins.delete(this.#logins.keys().next().value!);
    const token = newToken();
    const login: ConsoleLogin = { admin, csrf: newToken(), createdAt: now, lastSeen: now };
    this.#logins.set(hashOf(token), login);
    return { token, login };
  }

  /**
   * The live login a cookie's token names, undefined when there is none or it expired; `touch`
   * restarts its idle time (a request does, the live update stream's checks do not).
   */
  find(token: string | undefined, touch = true, now = Date.now()): ConsoleLogin | undefined {
    if (token === undefined) return undefined;
    const key = hashOf(token);
    const login = this.#logins.get(key);
    if (!login) return undefined;
    const settings = this.#settings();
    if (now - login.createdAt >= settings.session_lifetime * 1000 || now - login.lastSeen >= settings.idle_timeout * 1000 || !settings.admins.includes(login.admin)) {
      this.#logins.delete(key);
      return undefined;
    }
    if (!touch) return login;
    login.lastSeen = now;
    this.#logins.delete(key);
    this.#logins.set(key, login);
    return login;
  }

  close(token: string): void {
    this.#logins.delete(hashOf(token));
  }

  /** Ends every login of an admin (the account was deleted, or its password reset). */
  closeAdmin(admin: string): void {
    for (const [key, login] of this.#logins) if (login.admin === admin) this.#logins.delete(key);
  }

  get size(): number {
    return this.#logins.size;
  }
}

const hashOf = (token: string): string => createHash('sha256').update(token).digest('base64url');
