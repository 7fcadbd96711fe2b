/**
 * A reference XML guard, run as its own process between two link edges in guard mode
 * (docs/links.md): it reads one top-level element per line each way and passes on a line only
 * when it is one well-formed stanza of an allowed kind, within the size limit, with no
 * namespace prefixes and no text matching the deny pattern. Anything else is dropped, and with
 * on_drop "error" the sender gets a stanza error back; with "drop" it learns by its own timeout.
 *
 *   node test/support/xml-guard.ts '{"listen":"127.0.22.21:0","upstream":"127.0.22.22:5361",
 *     "max_bytes":4096,"elements":["message","presence","iq"],"deny_text":"TOP SECRET","on_drop":"error"}'
 *
 * It prints "listening ADDRESS:PORT" once ready, and "passed" or "dropped: REASON" per line.
 */
import { connect, createServer, type Socket } from 'node:net';
import { parseElement } from '../../src/xml/parse-element.ts';
import { escapeText } from '../../src/xml/serialize.ts';
import { NS_SERVER } from '../../src/xml/element.ts';

interface GuardRules {
  listen: string;
  upstream: string;
  max_bytes: number;
  elements: string[];
  deny_text?: string;
  on_drop: 'error' | 'drop';
}

const rules = JSON.parse(process.argv[2]!) as GuardRules;
const deny = rules.deny_text === undefined ? undefined : new RegExp(rules.deny_text);
const limits = { max_stanza_bytes: rules.max_bytes, max_depth: 32, max_attributes: 32, max_attribute_bytes: rules.max_bytes, max_text_bytes: rules.max_bytes };
const STREAM_CLOSE = '</stream:stream>';

/** Why a line may not pass, or undefined when it may. */
function verdict(line: string): string | undefined {
  if (Buffer.byteLength(line) > rules.max_bytes) return 'larger than max_bytes';
  if (/<\/?[A-Za-z_][\w.-]*:/.test(line) || /\sxmlns:/.test(line)) return 'a namespace prefix';
  let element;
  try {
    element = parseElement(line, limits, NS_SERVER);
  } catch (error) {
    return `not one well-formed element (${(error as Error).message})`;
  }
  if (!rules.elements.includes(element.name)) return `<${element.name}/> is not an allowed element`;
  if (deny !== undefined && deny.test(allText(element))) return 'text the guard denies';
  return undefined;
}

function allText(element: ReturnType<typeof parseElement>): string {
  return element.children.map((child) => (typeof child === 'string' ? child : allText(child))).join(' ');
}

/** The stanza error a dropped stanza's sender gets, or undefined when it may not be answered (RFC 6120 section 8.3.1). */
function errorFor(line: string, reason: string): string | undefined {
  const attr = (name: string) => new RegExp(`\\s${name}=["']([^"']*)["']`).exec(line)?.[1];
  const name = /^<([A-Za-z]+)/.exec(line)?.[1];
  const [from, to, id, type] = [attr('from'), attr('to'), attr('id'), attr('type')];
  if (name === undefined || !['message', 'presence', 'iq'].includes(name) || type === 'error' || type === 'result' || from === undefined) return undefined;
  const address = (key: string, value: string | undefined) => (value === undefined ? '' : ` ${key}="${value}"`);
  return (
    `<${name}${address('from', to)}${address('to', from)} type="error"${address('id', id)}>` +
    `<error type="cancel"><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>` +
    `<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">${escapeText(`rejected by the guard: ${reason}`)}</text></error></${name}>\n`
  );
}

/** Lines from `source` go to `target` when they pass; errors for dropped ones go back to `source`. */
function pipeLines(source: Socket, target: Socket): void {
  let buffered = '';
  source.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line.trim() === '') continue;
      if (line.trim() === STREAM_CLOSE) {
        target.end(`${STREAM_CLOSE}`);
        continue;
      }
      const reason = verdict(line);
      if (reason === undefined) {
        console.log('passed');
        target.write(`${line}\n`);
        continue;
      }
      console.log(`dropped: ${reason}`);
      const error = rules.on_drop === 'error' ? errorFor(line, reason) : undefined;
      if (error !== undefined) source.write(error);
    }
    // A line longer than the limit without its end: the stream is not what the guard passes.
    if (Buffer.byteLength(buffered) > rules.max_bytes) {
      console.log('dropped: a line without end beyond max_bytes; connection closed');
      source.destroy();
      target.destroy();
    }
  });
  source.on('end', () => target.end());
  source.on('error', () => target.destroy());
  source.on('close', () => target.destroy());
}

const [listenHost, listenPort] = rules.listen.split(':') as [string, string];
const [upstreamHost, upstreamPort] = rules.upstream.split(':') as [string, string];
const server = createServer((inside) => {
  const outside = connect({ host: upstreamHost, port: Number(upstreamPort) });
  inside.pause();
  outside.once('connect', () => inside.resume());
  pipeLines(inside, outside);
  pipeLines(outside, inside);
});
server.listen(Number(listenPort), listenHost, () => {
  const address = server.address() as { address: string; port: number };
  console.log(`listening ${address.address}:${address.port}`);
});
process.on('SIGTERM', () => process.exit(0));
