/**
 * What policy answers (DESIGN: policy returns verdicts, not side effects). One shape for every
 * question the server asks of it; src/s2s and src/router apply verdicts and decide nothing.
 * Every verdict carries `rule`: the config key path of the rule that decided it
 * (`s2s.access.deny_domains[1]`, `hosts["example.com"].foreign_access.deny[0]`, `s2s.min_level`),
 * or, for the operator's run-time controls, the command that made them (`trellis s2s block`).
 */
import type { StreamErrorCondition } from '../net/stream-errors.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError, type StanzaErrorCondition, type StanzaErrorType } from '../xml/stanza-error.ts';

/** Where a stanza for a remote domain goes. */
export type NextHop =
  /** the remote domain's own servers, found by DNS (RFC 6120 section 3.2) */
  | { kind: 'direct' }
  /** the servers of another domain, found by DNS */
  | { kind: 'domain'; domain: string }
  /** a host (name or IP address) and port, without SRV lookups */
  | { kind: 'address'; host: string; port: number }
  /** a configured link (docs/links.md), by its name */
  | { kind: 'link'; link: string };

export type Verdict =
  /** go on as asked */
  | { kind: 'continue'; rule: string; text: string }
  /** refuse one stanza or one pair: the stanza bounces, the pair is refused, the stream lives */
  | { kind: 'reject'; rule: string; condition: StanzaErrorCondition; type: StanzaErrorType | undefined; text: string; silent: boolean; withholdsContent?: boolean }
  /** end the stream with a stream error */
  | { kind: 'close'; rule: string; condition: StreamErrorCondition; text: string }
  /** send the stanza on by this next hop */
  | { kind: 'route'; rule: string; via: NextHop; text: string }
  /** go on with this stanza instead of the one asked about */
  | { kind: 'transform'; rule: string; stanza: Element; text: string };

export type VerdictKind = Verdict['kind'];

/** What a question with a yes-or-no answer gets: go on, or a refusal that names its rule. */
export type Admission = Extract<Verdict, { kind: 'continue' | 'reject' }>;

/** What becomes of one stanza: it goes on as it is or changed, or it is refused. */
export type StanzaVerdict = Extract<Verdict, { kind: 'continue' | 'reject' | 'transform' }>;

/** The way a stanza for a remote domain goes, or why it may not. */
export type Routing = Extract<Verdict, { kind: 'route' | 'reject' }>;

export function proceed(rule: string, text: string): Verdict & { kind: 'continue' } {
  return { kind: 'continue', rule, text };
}

/**
 * A refusal of one stanza or pair; `type` defaults to the condition's (RFC 6120 section 8.3.3). `silent`: nothing is sent back (refused presence, as
 * undeliverable presence is dropped, RFC 6121 section 8.5.1).
 */
/** `withholdsContent`: the error bounced carries none of the refused stanza's content (see StanzaError). */
export function reject(rule: string, condition: StanzaErrorCondition, text: string, options: { type?: StanzaErrorType; silent?: boolean; withholdsContent?: boolean } = {}): Verdict & { kind: 'reject' } {
  return { kind: 'reject', rule, condition, type: options.type, text, silent: options.silent ?? false, ...(options.withholdsContent ? { withholdsContent: true } : {}) };
}

export function close(rule: string, condition: StreamErrorCondition, text: string): Verdict & { kind: 'close' } {
  return { kind: 'close', rule, condition, text };
}

export function route(rule: string, via: NextHop, text: string): Verdict & { kind: 'route' } {
  return { kind: 'route', rule, via, text };
}

/** The error a rejected stanza bounces with; its text names the rule. */
export function stanzaErrorOf(verdict: Verdict & { kind: 'reject' }): StanzaError {
  const error = new StanzaError(verdict.condition, verdict.text, verdict.type);
  if (verdict.withholdsContent) error.withholdsContent = true;
  return error;
}
