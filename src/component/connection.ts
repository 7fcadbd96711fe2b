/**
 * One external component's stream (XEP-0114, the "jabber:component:accept" protocol): the
 * component names its domain in its stream header, proves the shared secret with
 * <handshake>SHA-1(stream id + secret)</handshake>, and from then on exchanges stanzas for
 * that domain; the router checks their `from` (src/router/router.ts).
 */
import { stanzaKind } from '../router/traffic-counters.ts';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ComponentStreamConfig, LogLevel, ParserLimits } from '../config/types.ts';
import { tryParseJid } from '../jid/jid.ts';
import { readRateFrom } from '../net/read-throttle.ts';
import { StreamError, type StreamErrorCondition } from '../net/stream-errors.ts';
import { XmlStream, newStreamId } from '../net/xml-stream.ts';
import type { Router } from '../router/router.ts';
import type { LogFields, Logger } from '../util/log.ts';
import { Element, NS_CLIENT, NS_STREAMS } from '../xml/element.ts';
import type { NamespaceDeclarations } from '../xml/parser.ts';
import { StanzaError, errorReply } from '../xml/stanza-error.ts';

export const NS_COMPONENT_ACCEPT = 'jabber:component:accept';

/** What a connection asks of the service that owns the routes. */
export interface ComponentDirectory {
  /** the secret of a configured component domain, undefined for one that is not configured */
  secretOf(domain: string): string | undefined;
  /** Makes this connection the domain's route; returns false when another connection holds it. */
  attach(domain: string, connection: ComponentConnection): boolean;
  /** The connection closed (whether it had attached or not). */
  closed(connection: ComponentConnection): void;
}

export interface ComponentContext {
  config: ComponentStreamConfig;
  router: Router;
  logger: Logger;
  directory: ComponentDirectory;
}

type Phase = 'header' | 'handshake' | 'ready' | 'closed';

/** Stanzas waiting for the router before the socket stops being read. */
const MAX_PENDING_STANZAS = 256;

export class ComponentConnection {
  readonly stream: XmlStream;
  readonly connectedAt = Date.now();
  stanzasIn = 0;
  stanzasOut = 0;
  #context: ComponentContext;
  #phase: Phase = 'header';
  #domain: string | undefined;
  #streamId = '';
  #pending = 0;
  #queue: Promise<void> = Promise.resolve();
  #closeReason = 'connection closed by peer';
  #logger: Logger | undefined;

  constructor(socket: Socket, context: ComponentContext) {
    this.#context = context;
    this.stream = new XmlStream(
      socket,
      {
        streamOpen: (root, declarations) => this.#onStreamOpen(root, declarations),
        stanza: (element) => this.#enqueue(element),
        streamClose: () => {
          this.#closeReason = 'stream closed by peer';
        },
        parseError: (error) => {
          this.#closeReason = `${error.condition}: ${error.message}`;
        },
        whitespace: () => {},
        socketClosed: (error) => this.#onSocketClosed(error),
      },
      { limits: preHandshakeLimits(context.config), contentNamespace: NS_COMPONENT_ACCEPT, readRate: readRateFrom(context.config.rate) },
    );
    this.#log('info', 'component connection accepted', {});
  }

  /** the domain it authenticated for, once its handshake succeeded */
  get domain(): string | undefined {
    return this.#phase === 'ready' ? this.#domain : undefined;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Ends a connection that has not completed its handshake in time. */
  checkTimeout(now: number): void {
    if (this.#phase !== 'header' && this.#phase !== 'handshake') return;
    const limit = this.#context.config.handshake_timeout;
    if (now - this.connectedAt > limit * 1000) this.#streamError('connection-timeout', `no successful handshake within ${limit} s`);
  }

  /** A stanza for the component's domain. */
  send(stanza: Element): void {
    this.stanzasOut++;
    this.#context.router.traffic.sent.add('component', stanzaKind(stanza.name));
    this.stream.send(stanza);
  }

  end(condition: StreamErrorCondition, text?: string): void {
    this.#streamError(condition, text);
  }

  #log(level: LogLevel, message: string, fields: LogFields): void {
    const logger = this.#context.logger;
    if (!logger.enabled(level)) return;
    this.#logger ??= logger.child({ peer: this.stream.peer });
    this.#logger[level](message, { component: this.#domain, ...fields });
  }

  #streamError(condition: StreamErrorCondition, text?: string): void {
    if (this.stream.closing) return;
    this.#closeReason = text ? `${condition}: ${text}` : condition;
    this.stream.streamError(condition, text, { from: this.#domain, id: this.#streamId || undefined, version: '' });
  }

  /** XEP-0114 section 3: the component's header names its domain in `to`; ours answers with an id and no version. */
  #onStreamOpen(root: Element, declarations: NamespaceDeclarations): void {
    this.#streamId = newStreamId();
    if (this.#phase !== 'header') return this.#streamError('not-authorized', 'a component stream is not restarted');
    if (root.name !== 'stream' || root.xmlns !== NS_STREAMS) {
      return this.#streamError('invalid-namespace', 'the stream root must be <stream:stream> in http://etherx.jabber.org/streams');
    }
    if (declarations[''] !== NS_COMPONENT_ACCEPT) {
      return this.#streamError('invalid-namespace', `the content namespace of a component stream must be '${NS_COMPONENT_ACCEPT}'`);
    }
    const to = root.attrs.to === undefined ? undefined : tryParseJid(root.attrs.to);
    const domain = to?.isDomain() ? to.domain : undefined;
    if (domain === undefined || this.#context.directory.secretOf(domain) === undefined) {
      this.#log('warn', 'component refused: unknown domain', { to: root.attrs.to });
      return this.#streamError('host-unknown', `no component is configured for ${root.attrs.to ?? '(no to)'}`);
    }
    this.#domain = domain;
    this.#phase = 'handshake';
    this.stream.openStream({ from: domain, id: this.#streamId, version: '' });
  }

  #enqueue(element: Element): void {
    this.#pending++;
    if (this.#pending === MAX_PENDING_STANZAS) this.stream.holdReading('backlog');
    this.#queue = this.#queue
      .then(() => this.#process(element))
      .catch((error: unknown) => {
        if (error instanceof StreamError) return this.#streamError(error.condition, error.message);
        this.#log('error', 'component stanza processing failed', { error: error instanceof Error ? error.stack : String(error) });
        this.#streamError('internal-server-error');
      })
      .finally(() => {
        if (this.#pending-- === MAX_PENDING_STANZAS) this.stream.releaseReading('backlog');
      });
  }

  async #process(element: Element): Promise<void> {
    if (this.stream.closing) return;
    if (this.#phase === 'handshake') return this.#handshake(element);
    if (this.#phase !== 'ready') return;
    if (element.xmlns !== NS_CLIENT || !['message', 'presence', 'iq'].includes(element.name)) {
      return this.#streamError('unsupported-stanza-type', `<${element.name}/> is not a stanza`);
    }
    this.stanzasIn++;
    if (element.attrs.to === undefined) {
      // As Prosody: a component's stanza names its addressee (its own domain is not an account).
      const reply = errorReply(element, new StanzaError('bad-request', "a component's stanzas need a 'to' address"));
      if (reply) this.send(reply);
      return;
    }
    await this.#context.router.route(element, { kind: 'component', domain: this.#domain!, peer: this.stream.peer });
  }

  /** XEP-0114 section 3: the hex SHA-1 of the stream id followed by the secret; a wrong one gets not-authorized. */
  #handshake(element: Element): void {
    if (element.name !== 'handshake' || element.xmlns !== NS_CLIENT) return this.#streamError('not-authorized', 'send the handshake first');
    const domain = this.#domain!;
    const secret = this.#context.directory.secretOf(domain);
    const expected = Buffer.from(createHash('sha1').update(this.#streamId + (secret ?? '')).digest('hex'));
    const given = Buffer.from(element.text().trim().toLowerCase());
    if (secret === undefined || given.length !== expected.length || !timingSafeEqual(given, expected)) {
      this.#log('warn', 'component refused: wrong handshake', {});
      return this.#streamError('not-authorized', 'the handshake does not match the shared secret');
    }
    // As Prosody's mod_component: a second connection for a connected domain is refused.
    if (!this.#context.directory.attach(domain, this)) {
      this.#log('warn', 'component refused: already connected', {});
      return this.#streamError('conflict', `a component is already connected for ${domain}`);
    }
    this.#phase = 'ready';
    this.stream.setLimits(this.#context.config.limits);
    this.stream.send(new Element('handshake', NS_CLIENT));
    this.#log('info', 'component connected', {});
  }

  #onSocketClosed(error?: Error): void {
    const wasReady = this.#phase === 'ready';
    this.#phase = 'closed';
    this.#context.directory.closed(this);
    this.#log(wasReady ? 'info' : 'debug', 'component connection closed', { reason: error ? error.message : this.#closeReason });
  }
}

/** Before the handshake only a small element is accepted, under the stream's other limits. */
function preHandshakeLimits(config: ComponentStreamConfig): ParserLimits {
  const bytes = Math.min(config.pre_handshake_max_stanza_bytes, config.limits.max_stanza_bytes);
  return { ...config.limits, max_stanza_bytes: bytes, max_text_bytes: Math.min(bytes, config.limits.max_text_bytes), max_attribute_bytes: Math.min(bytes, config.limits.max_attribute_bytes) };
}
