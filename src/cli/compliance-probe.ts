/**
 * What a client sees of a running server, gathered for `trellis compliance`: the stream features
 * before and after TLS and after authentication (SCRAM-SHA-256 over STARTTLS), whether direct TLS
 * (XEP-0368) and the component port (XEP-0114) answer, and service discovery (XEP-0030) of the
 * server, of each item it lists, and of the account itself.
 */
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ScramClient } from '../auth/scram-client.ts';
import { XmlStream } from '../net/xml-stream.ts';
import { STORED_LIMITS } from '../xml/parse-element.ts';
import { Element, NS_CLIENT } from '../xml/element.ts';
import { NS_BIND, NS_SASL, NS_TLS } from '../xml/namespaces.ts';

export interface Endpoint {
  host: string;
  port: number;
}

export interface ProbeOptions {
  jid: { local: string; domain: string };
  password: string;
  c2s: Endpoint;
  directTls?: Endpoint;
  component?: Endpoint;
  /** PEM of the CA (or self-signed certificate) to verify the server with; the system's CAs otherwise */
  ca?: string;
  timeoutMs?: number;
}

export interface DiscoInfo {
  identities: { category: string; type: string }[];
  features: string[];
}

export interface ProbeFacts {
  /** the first stream features, before TLS */
  plainFeatures: Element;
  /** after STARTTLS */
  tlsFeatures: Element;
  /** after authentication */
  boundFeatures: Element;
  /** the TLS version of the client stream */
  tlsProtocol: string | null;
  directTls: 'answered' | 'failed' | 'not probed';
  component: 'answered' | 'failed' | 'not probed';
  rosterAnswered: boolean;
  server: DiscoInfo;
  /** disco#info of each item of the server's disco#items, by JID */
  services: Map<string, DiscoInfo>;
  account: DiscoInfo;
  /** disco#info of a room the probe created on the first group chat service, and left again */
  room: DiscoInfo | undefined;
}

const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

/** One client stream, read element by element. */
class ProbeStream {
  readonly stream: XmlStream;
  #waiting: ((element: Element | undefined) => void)[] = [];
  #queued: Element[] = [];
  #closed = false;
  #nextId = 0;

  constructor(socket: Socket) {
    this.stream = new XmlStream(
      socket,
      {
        streamOpen: () => {},
        stanza: (element) => this.#deliver(element),
        streamClose: () => this.#end(),
        parseError: () => this.#end(),
        whitespace: () => {},
        socketClosed: () => this.#end(),
      },
      { limits: STORED_LIMITS, contentNamespace: NS_CLIENT },
    );
  }

  #deliver(element: Element): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter(element);
    else this.#queued.push(element);
  }

  #end(): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter(undefined);
  }

  /** The next top-level element; rejects when the stream ends or nothing comes in time. */
  next(timeoutMs: number): Promise<Element> {
    const queued = this.#queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(new Error('the server closed the stream'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the server did not answer in time')), timeoutMs);
      this.#waiting.push((element) => {
        clearTimeout(timer);
        if (element) resolve(element);
        else reject(new Error('the server closed the stream'));
      });
    });
  }

  /** Sends an IQ and waits for its answer, skipping anything else that arrives meanwhile. */
  async iq(type: 'get' | 'set', to: string | undefined, payload: Element, timeoutMs: number): Promise<Element> {
    const id = `probe-${++this.#nextId}`;
    this.stream.send(new Element('iq', NS_CLIENT, { type, id, ...(to ? { to } : {}) }, [payload]));
    for (;;) {
      const element = await this.next(timeoutMs);
      if (element.name === 'iq' && element.attrs.id === id) return element;
    }
  }
}

function discoInfoOf(reply: Element): DiscoInfo {
  const query = reply.getChild('query', NS_DISCO_INFO);
  return {
    identities: (query?.getChildren('identity', NS_DISCO_INFO) ?? []).map((identity) => ({ category: identity.attrs.category ?? '', type: identity.attrs.type ?? '' })),
    features: (query?.getChildren('feature', NS_DISCO_INFO) ?? []).map((feature) => feature.attrs.var ?? ''),
  };
}

async function discoInfo(stream: ProbeStream, to: string, timeoutMs: number): Promise<DiscoInfo> {
  return discoInfoOf(await stream.iq('get', to, new Element('query', NS_DISCO_INFO), timeoutMs));
}

function connectTcp({ host, port }: Endpoint): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

export async function probe(options: ProbeOptions): Promise<ProbeFacts> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { domain, local } = options.jid;
  const stream = new ProbeStream(await connectTcp(options.c2s));
  try {
    stream.stream.openStream({ to: domain });
    const plainFeatures = await stream.next(timeoutMs);
    stream.stream.send(new Element('starttls', NS_TLS));
    const proceed = await stream.next(timeoutMs);
    if (proceed.name !== 'proceed') throw new Error('the server refused STARTTLS');
    const secure = await stream.stream.startTlsClient({ servername: domain, ...(options.ca ? { ca: options.ca } : {}) });
    stream.stream.openStream({ to: domain });
    const tlsFeatures = await stream.next(timeoutMs);

    const scram = new ScramClient({ hash: 'SHA-256', username: local, password: options.password });
    stream.stream.send(new Element('auth', NS_SASL, { mechanism: 'SCRAM-SHA-256' }, [scram.firstMessage().toString('base64')]));
    const challenge = await stream.next(timeoutMs);
    if (challenge.name !== 'challenge') throw new Error(`authentication failed: <${challenge.elements()[0]?.name ?? challenge.name}/>`);
    stream.stream.send(new Element('response', NS_SASL, {}, [(await scram.finalMessage(Buffer.from(challenge.text(), 'base64'))).toString('base64')]));
    const success = await stream.next(timeoutMs);
    if (success.name !== 'success') throw new Error(`authentication failed: <${success.elements()[0]?.name ?? success.name}/>`);
    scram.verifyServerFinal(Buffer.from(success.text(), 'base64'));
    stream.stream.restart();
    stream.stream.openStream({ to: domain });
    const boundFeatures = await stream.next(timeoutMs);
    const bound = await stream.iq('set', undefined, new Element('bind', NS_BIND, {}, [new Element('resource', NS_BIND, {}, ['compliance'])]), timeoutMs);
    if (bound.attrs.type !== 'result') throw new Error('resource binding failed');

    const roster = await stream.iq('get', undefined, new Element('query', 'jabber:iq:roster'), timeoutMs);
    const server = await discoInfo(stream, domain, timeoutMs);
    const items = await stream.iq('get', domain, new Element('query', NS_DISCO_ITEMS), timeoutMs);
    const services = new Map<string, DiscoInfo>();
    for (const item of items.getChild('query', NS_DISCO_ITEMS)?.getChildren('item', NS_DISCO_ITEMS) ?? []) {
      const jid = item.attrs.jid;
      if (jid && !item.attrs.node) services.set(jid, await discoInfo(stream, jid, timeoutMs));
    }
    const account = await discoInfo(stream, `${local}@${domain}`, timeoutMs);
    const conference = [...services].find(([, info]) => info.identities.some((identity) => identity.category === 'conference'))?.[0];
    const room = conference ? await probeRoom(stream, `compliance-${randomBytes(6).toString('hex')}@${conference}`, timeoutMs) : undefined;
    stream.stream.closeStream();
    return {
      plainFeatures,
      tlsFeatures,
      boundFeatures,
      tlsProtocol: secure.getProtocol(),
      directTls: options.directTls ? await answersDirectTls(options.directTls, domain, options.ca, timeoutMs) : 'not probed',
      component: options.component ? await answersComponent(options.component, domain, timeoutMs) : 'not probed',
      rosterAnswered: roster.attrs.type === 'result',
      server,
      services,
      account,
      room,
    };
  } finally {
    stream.stream.destroy();
  }
}

/** XEP-0368: TLS from the first byte, then a client stream whose features offer SASL. */
async function answersDirectTls(endpoint: Endpoint, domain: string, ca: string | undefined, timeoutMs: number): Promise<'answered' | 'failed'> {
  try {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const secure = tlsConnect({ host: endpoint.host, port: endpoint.port, servername: domain, ALPNProtocols: ['xmpp-client'], ...(ca ? { ca } : {}) });
      secure.once('secureConnect', () => resolve(secure));
      secure.once('error', reject);
    });
    const stream = new ProbeStream(socket);
    try {
      stream.stream.openStream({ to: domain });
      const features = await stream.next(timeoutMs);
      return features.getChild('mechanisms', NS_SASL) ? 'answered' : 'failed';
    } finally {
      stream.stream.destroy();
    }
  } catch {
    return 'failed';
  }
}

/** XEP-0114: the component port answers a jabber:component:accept stream header with its own. */
async function answersComponent(endpoint: Endpoint, domain: string, timeoutMs: number): Promise<'answered' | 'failed'> {
  try {
    const socket = await connectTcp(endpoint);
    socket.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='probe.${domain}'>`);
    const header = await new Promise<string>((resolve) => {
      let received = '';
      const timer = setTimeout(() => resolve(received), timeoutMs);
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('utf8');
        if (received.includes('<stream:stream')) {
          clearTimeout(timer);
          resolve(received);
        }
      });
      socket.once('close', () => resolve(received));
    });
    socket.destroy();
    return /<stream:stream[^>]*jabber:component:accept/.test(header) ? 'answered' : 'failed';
  } catch {
    return 'failed';
  }
}

const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';

/** XEP-0045 section 10.1.2: creates an instant room, reads its disco#info, and leaves (an empty temporary room goes away). */
async function probeRoom(stream: ProbeStream, room: string, timeoutMs: number): Promise<DiscoInfo | undefined> {
  stream.stream.send(new Element('presence', NS_CLIENT, { to: `${room}/probe` }, [new Element('x', NS_MUC)]));
  for (;;) {
    const element = await stream.next(timeoutMs);
    if (element.name !== 'presence' || element.attrs.from !== `${room}/probe`) continue;
    if (element.attrs.type === 'error') return undefined;
    const created = element.getChild('x', NS_MUC_USER)?.getChildren('status', NS_MUC_USER).some((status) => status.attrs.code === '201');
    if (created) await stream.iq('set', room, new Element('query', NS_MUC_OWNER, {}, [new Element('x', 'jabber:x:data', { type: 'submit' })]), timeoutMs);
    break;
  }
  const info = await discoInfo(stream, room, timeoutMs);
  stream.stream.send(new Element('presence', NS_CLIENT, { to: `${room}/probe`, type: 'unavailable' }));
  return info;
}
