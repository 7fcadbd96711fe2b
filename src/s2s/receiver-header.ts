/**
 * The checks on the stream header a receiving server reads (RFC 6120 section 4.7): the
 * namespaces, a `to` we host, a `from` that is a domain policy lets in. Each restart brings a
 * new header and a new stream id (section 4.3.3).
 */
import { prepareDomain } from '../jid/jid.ts';
import type { StreamErrorCondition } from '../net/stream-errors.ts';
import { newStreamId } from '../net/xml-stream.ts';
import { NS_SERVER, NS_STREAMS, type Element } from '../xml/element.ts';
import type { NamespaceDeclarations } from '../xml/parser.ts';
import { answersFor, type S2sContext } from './context.ts';

export type ReceivedHeader =
  /** `remote` is undefined when the peer left `from` out (RFC 3920 peers) */
  | { local: string; remote: string | undefined; id: string; legacy: boolean }
  | { condition: StreamErrorCondition; text: string; local?: string };

export function receiverHeader(host: { context: S2sContext; remoteAddress: string }, root: Element, declarations: NamespaceDeclarations): ReceivedHeader {
  if (root.name !== 'stream' || root.xmlns !== NS_STREAMS || declarations[''] !== NS_SERVER) {
    return { condition: 'invalid-namespace', text: "a server stream is <stream:stream> with content namespace 'jabber:server'" };
  }
  const to = root.attrs.to;
  const local = domainOrUndefined(to);
  // Section 4.9.3.6: a `to` naming no domain hosted or fronted here gets host-unknown.
  if (local === undefined || !answersFor(host.context, local)) return { condition: 'host-unknown', text: `this server does not host ${to ?? '(no to)'}` };
  const from = root.attrs.from;
  const remote = domainOrUndefined(from);
  if (from !== undefined && remote === undefined) return { condition: 'invalid-from', text: `${from} is not a domain`, local };
  const verdict = host.context.policy.current.connection({ domain: remote, address: host.remoteAddress, direction: 'in' });
  if (verdict.kind === 'close') return { condition: verdict.condition, text: verdict.text, local };
  return { local, remote, id: newStreamId(), legacy: !root.attrs.version?.startsWith('1.') };
}

function domainOrUndefined(domain: string | undefined): string | undefined {
  try {
    return domain !== undefined ? prepareDomain(domain) : undefined;
  } catch {
    return undefined;
  }
}
