/**
 * The relay trace of a stanza a Trellis server relays (docs/peering.md, "Loops"): an extension
 * element in Trellis's namespace, `<relayed xmlns='urn:xmpp:trellis:relay:0'><hop by='centre.example'/></relayed>`,
 * one `<hop/>` per relaying server, oldest first. It travels only between servers that announce
 * they keep it (`<trace xmlns='urn:xmpp:trellis:relay:0'/>` in their stream features, or in the
 * `<bidi/>` that turns a stream bidirectional): another server takes the stanza as the last
 * server on its way, since RFC 6120 section 10.4 has it deliver to its own domains and relay
 * nothing, so it cannot be on a loop, and its users are not shown the servers a stanza crossed.
 * A Trellis server takes the trace off before it delivers a stanza to a hosted domain. A trace, not a stanza-id cache: ids are the sender's
 * and not unique across senders (RFC 6120 section 8.1.3), and a cache would have to be shared
 * by every server on a path to see a stanza come back.
 */
import { el, type Element } from '../xml/element.ts';

export const NS_TRELLIS_RELAY = 'urn:xmpp:trellis:relay:0';

/** Hops read from a trace at most: a trace longer than any hop limit is a loop already. */
const MAX_HOPS_READ = 65;

/** Takes the trace off a stanza (every copy of it), returning its hops oldest first. */
export function takeRelayTrace(stanza: Element): string[] {
  const hops: string[] = [];
  for (const trace of stanza.getChildren('relayed', NS_TRELLIS_RELAY)) {
    for (const hop of trace.getChildren('hop', NS_TRELLIS_RELAY)) {
      const by = hop.attrs.by;
      if (by !== undefined && hops.length < MAX_HOPS_READ) hops.push(by.toLowerCase());
    }
    stanza.remove(trace);
  }
  return hops;
}

/** What a server announces to say it keeps the trace of stanzas it is sent. */
export function relayTraceFeature(): Element {
  return el('trace', NS_TRELLIS_RELAY);
}

/** Whether stream features (or a `<bidi/>` request) announce the trace. */
export function announcesRelayTrace(element: Element): boolean {
  return element.getChild('trace', NS_TRELLIS_RELAY) !== undefined;
}

/** Puts the trace on a stanza this server relays, with this server's hop last. */
export function stampRelayTrace(stanza: Element, hops: readonly string[]): void {
  stanza.append(el('relayed', NS_TRELLIS_RELAY, {}, ...hops.map((by) => el('hop', NS_TRELLIS_RELAY, { by }))));
}

/** The application condition of a routing-loop error (RFC 6120 section 8.3.4). */
export function routingLoopCondition(): Element {
  return el('routing-loop', NS_TRELLIS_RELAY);
}
