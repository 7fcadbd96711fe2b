/**
 * Warnings about what a peer sent that it may send again and again on one connection: an
 * unsolicited answer, a request refused, a stanza for a pair it did not bind. Each is answered
 * (or ignored) as its protocol says every time, but the log gets one line per message and
 * connection per `limits.log_interval`, the next one counting those left out, so that a peer
 * cannot fill an operator's disk by repeating itself.
 */
import type { LogFields } from '../util/log.ts';

export interface PeerWarnings {
  warnOfPeer(message: string, fields: LogFields): void;
}
