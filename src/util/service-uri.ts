/** STUN and TURN server URIs (RFC 7064, RFC 7065), as `external_services` lists them (XEP-0215). */

export interface ExternalService {
  type: 'stun' | 'stuns' | 'turn' | 'turns';
  host: string;
  port: number;
  transport: 'udp' | 'tcp';
}

/** RFC 7064 and RFC 7065 URIs: stun:host[:port], turn:host[:port][?transport=udp|tcp], stuns:, turns:. */
export function parseServiceUri(uri: string): ExternalService {
  const match = /^(stuns?|turns?):(\[[0-9a-fA-F:.]+\]|[^:?\s[\]]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/.exec(uri);
  if (!match) throw new Error('expected a STUN or TURN URI such as stun:turn.example.com:3478 or turn:turn.example.com?transport=tcp');
  const type = match[1] as ExternalService['type'];
  const secure = type.endsWith('s');
  if (type.startsWith('stun') && match[4] !== undefined) throw new Error('a stun: URI has no transport (RFC 7064)');
  const port = match[3] === undefined ? (secure ? 5349 : 3478) : Number(match[3]);
  if (port < 1 || port > 65535) throw new Error('the port must be between 1 and 65535');
  return { type, host: match[2]!.replace(/^\[|\]$/g, ''), port, transport: (match[4] as 'udp' | 'tcp' | undefined) ?? (secure ? 'tcp' : 'udp') };
}
