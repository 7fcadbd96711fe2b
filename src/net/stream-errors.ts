/** Stream error conditions (RFC 6120 section 4.9.3). */
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';

export type StreamErrorCondition =
  | 'bad-format'
  | 'bad-namespace-prefix'
  | 'conflict'
  | 'connection-timeout'
  | 'host-gone'
  | 'host-unknown'
  | 'improper-addressing'
  | 'internal-server-error'
  | 'invalid-from'
  | 'invalid-namespace'
  | 'invalid-xml'
  | 'not-authorized'
  | 'not-well-formed'
  | 'policy-violation'
  | 'remote-connection-failed'
  | 'reset'
  | 'resource-constraint'
  | 'restricted-xml'
  | 'see-other-host'
  | 'system-shutdown'
  | 'undefined-condition'
  | 'unsupported-encoding'
  | 'unsupported-feature'
  | 'unsupported-stanza-type'
  | 'unsupported-version';

/** A failure that must end the stream it happened on. */
export class StreamError extends Error {
  readonly condition: StreamErrorCondition;
  constructor(condition: StreamErrorCondition, text?: string) {
    super(text ?? condition);
    this.name = 'StreamError';
    this.condition = condition;
  }
}
