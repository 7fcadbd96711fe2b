/**
 * The mechanism-neutral SASL server interface used by the stream layer (RFC 6120 section 6).
 * Base64 transfer encoding is the stream layer's business: exchanges see raw bytes.
 */
import type { FastToken, StoredCredentials } from '../storage/types.ts';
import type { ChannelBindings } from './channel-binding.ts';
import type { AdvertisedAuthentication } from './scram-downgrade.ts';
import { HashedTokenServerExchange, type HashedTokenMechanism } from './hashed-token.ts';
import { PlainServerExchange } from './plain.ts';
import { ScramServerExchange } from './scram-server.ts';

export type SaslMechanismName = 'SCRAM-SHA-256-PLUS' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1-PLUS' | 'SCRAM-SHA-1' | 'PLAIN' | HashedTokenMechanism;

/** Defined conditions of RFC 6120 section 6.5. */
export type SaslFailureCondition =
  | 'aborted'
  | 'account-disabled'
  | 'credentials-expired'
  | 'encryption-required'
  | 'incorrect-encoding'
  | 'invalid-authzid'
  | 'invalid-mechanism'
  | 'malformed-request'
  | 'mechanism-too-weak'
  | 'not-authorized'
  | 'temporary-auth-failure';

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  /** `username` is the prepared localpart of the authenticated account. */
  | { kind: 'success'; username: string; additionalData?: Buffer; /** the FAST token a Hashed Token mechanism logged in with */ fastToken?: FastToken }
  | { kind: 'failure'; condition: SaslFailureCondition; text?: string };

export interface SaslServerExchange {
  /**
   * Feeds the next client message: the initial response of <auth/> (an empty Buffer when it
   * was empty or absent), then each <response/>. After success or failure every further
   * step fails.
   */
  step(response: Buffer): Promise<SaslStep>;
}

export interface SaslContext {
  /** The domain the client authenticates against; authorization identities must be in it. */
  domain: string;
  /** Credentials of a prepared username, or undefined when there is no such account. */
  lookup(username: string): Promise<StoredCredentials | undefined>;
  /**
   * Iteration count announced to unknown usernames, so that they are indistinguishable from
   * real accounts: set it to the count used for new verifiers. Default DEFAULT_SCRAM_ITERATIONS.
   */
  scramIterations?: number;
  /**
   * The channel bindings of the TLS connection, present when the -PLUS mechanisms are offered
   * on it: a client that could bind but believes the server cannot ("y") is then refused.
   */
  channelBindings?: ChannelBindings;
  /** what the server advertised on this stream, for the XEP-0474 hash in SCRAM's server-first-message */
  advertised?: AdvertisedAuthentication;
  /** the live FAST tokens of the client logging in (XEP-0484), for the Hashed Token mechanisms; none without */
  fastTokens?(username: string): Promise<readonly FastToken[]>;
}

export interface SaslServerOptions {
  /** Fixed SCRAM server nonce, for reproducing test vectors; random otherwise. */
  serverNonce?: string;
}

export function createSaslServer(mechanism: SaslMechanismName, context: SaslContext, options: SaslServerOptions = {}): SaslServerExchange {
  switch (mechanism) {
    case 'SCRAM-SHA-256-PLUS':
      return new ScramServerExchange('SHA-256', true, context, options);
    case 'SCRAM-SHA-256':
      return new ScramServerExchange('SHA-256', false, context, options);
    case 'SCRAM-SHA-1-PLUS':
      return new ScramServerExchange('SHA-1', true, context, options);
    case 'SCRAM-SHA-1':
      return new ScramServerExchange('SHA-1', false, context, options);
    case 'PLAIN':
      return new PlainServerExchange(context);
    case 'HT-SHA-256-NONE':
    case 'HT-SHA-256-UNIQ':
    case 'HT-SHA-256-ENDP':
    case 'HT-SHA-256-EXPR':
      return new HashedTokenServerExchange({ mechanism, channelBindings: context.channelBindings, tokens: context.fastTokens ?? (async () => []) });
  }
}
