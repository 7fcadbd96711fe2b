/**
 * Finds the server's pings (XEP-0199 section 4.2) in the text a benchmark client receives, so
 * that the client answers them as every client must answer an IQ get (RFC 6120 section 8.2.3).
 * A client that only reads would otherwise be taken for a dead one by a server that pings silent
 * clients, and be disconnected in the middle of a run.
 */
const PING = /<iq\b([^>]*)>\s*<ping\s+xmlns=(['"])urn:xmpp:ping\2\s*\/>\s*<\/iq>/g;
/** longer than any ping a server sends: a start of an IQ kept for the next chunk is bounded */
const MAX_PING_CHARS = 512;

export class PingAnswerer {
  #tail = '';

  /** The answers to the pings completed by `text`, in order. */
  answersTo(text: string): string[] {
    const scanned = this.#tail + text;
    this.#tail = '';
    const answers: string[] = [];
    let consumed = 0;
    if (scanned.includes('urn:xmpp:ping')) {
      for (const match of scanned.matchAll(PING)) {
        consumed = match.index + match[0].length;
        const attributes = match[1]!;
        if (attribute(attributes, 'type') !== 'get') continue;
        const from = attribute(attributes, 'from');
        answers.push(`<iq type='result' id='${attribute(attributes, 'id') ?? ''}'${from === undefined ? '' : ` to='${from}'`}/>`);
      }
    }
    // An IQ cut by the chunk boundary: kept until the next chunk completes it.
    const open = scanned.lastIndexOf('<iq');
    if (open >= consumed && scanned.length - open < MAX_PING_CHARS) this.#tail = scanned.slice(open);
    return answers;
  }
}

function attribute(attributes: string, name: string): string | undefined {
  return new RegExp(`\\b${name}=(['"])([^'"]*)\\1`).exec(attributes)?.[2];
}
