/**
 * The SASL exchange on a client stream (RFC 6120 section 6.4): <auth/>, <challenge/>,
 * <response/>, <abort/>, <success/>, <failure/>. Mechanism logic lives in src/auth. SASL2
 * (src/c2s/sasl2.ts) runs its exchanges through `start` and `respond` too, and turns these
 * elements into its own.
 */
import type { FastToken } from '../storage/types.ts';
import { createSaslServer, type SaslContext, type SaslFailureCondition, type SaslMechanismName, type SaslServerExchange, type SaslStep } from '../auth/sasl.ts';
import { Element } from '../xml/element.ts';
import { NS_SASL } from '../xml/namespaces.ts';

export interface SaslNegotiationContext extends SaslContext {
  /** mechanisms offered on this stream right now */
  offered: readonly string[];
  /** all mechanisms the configuration enables, to tell "not offered yet" from "unknown" */
  configured: readonly string[];
  tlsActive: boolean;
}

/** What the stream should do after one SASL element. */
export type SaslOutcome =
  | { kind: 'reply'; element: Element }
  | { kind: 'success'; element: Element; username: string; mechanism: string; additionalData?: Buffer; fastToken?: FastToken }
  | { kind: 'failure'; element: Element; condition: SaslFailureCondition; mechanism?: string };

export class SaslNegotiation {
  #exchange: SaslServerExchange | undefined;
  #mechanism: string | undefined;

  async handle(element: Element, context: SaslNegotiationContext): Promise<SaslOutcome> {
    switch (element.name) {
      case 'auth':
        return this.start(element.attrs.mechanism ?? '', element.text(), context);
      case 'response':
        return this.respond(element.text());
      case 'abort':
        return this.abort();
      default:
        return failure('malformed-request', `unexpected <${element.name}/>`);
    }
  }

  /** The next client message, as base64 text. */
  async respond(text: string): Promise<SaslOutcome> {
    const exchange = this.#exchange;
    if (!exchange) return failure('malformed-request', 'no authentication in progress');
    const data = decodeBase64(text);
    if (!data) return this.#fail('incorrect-encoding', 'the response is not valid base64');
    return this.#outcome(await exchange.step(data));
  }

  /** RFC 6120 section 6.4.4: the client may abort; the server answers <aborted/>. */
  abort(): SaslOutcome {
    return this.#fail('aborted');
  }

  /** Starts an exchange with a mechanism and its initial response (base64 text, empty when none). */
  async start(mechanism: string, initialResponse: string, context: SaslNegotiationContext): Promise<SaslOutcome> {
    this.#exchange = undefined;
    this.#mechanism = mechanism;
    if (!context.offered.includes(mechanism)) {
      // RFC 6120 section 6.4.5 / 6.5.4: a mechanism that needs TLS is refused with encryption-required.
      if (context.configured.includes(mechanism) && !context.tlsActive) return this.#fail('encryption-required', `${mechanism} needs TLS`);
      return this.#fail('invalid-mechanism', `mechanism ${JSON.stringify(mechanism)} is not offered`);
    }
    const initial = decodeBase64(initialResponse);
    if (!initial) return this.#fail('incorrect-encoding', 'the initial response is not valid base64');
    this.#exchange = createSaslServer(mechanism as SaslMechanismName, context);
    return this.#outcome(await this.#exchange.step(initial));
  }

  #outcome(step: SaslStep): SaslOutcome {
    switch (step.kind) {
      case 'challenge':
        return { kind: 'reply', element: saslElement('challenge', step.data) };
      case 'success': {
        this.#exchange = undefined;
        return { kind: 'success', element: saslElement('success', step.additionalData), username: step.username, mechanism: this.#mechanism ?? '', additionalData: step.additionalData, fastToken: step.fastToken };
      }
      case 'failure':
        return this.#fail(step.condition, step.text);
    }
  }

  #fail(condition: SaslFailureCondition, text?: string): SaslOutcome {
    this.#exchange = undefined;
    return { ...failure(condition, text), mechanism: this.#mechanism };
  }
}

function failure(condition: SaslFailureCondition, text?: string): SaslOutcome & { kind: 'failure' } {
  const element = new Element('failure', NS_SASL);
  element.c(condition);
  if (text) element.c('text', { 'xml:lang': 'en' }).t(text);
  return { kind: 'failure', element, condition };
}

/** RFC 6120 section 6.4.2: "=" stands for an empty response; anything else is strict base64. */
function decodeBase64(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (trimmed === '=' || trimmed === '') return Buffer.alloc(0);
  if (trimmed.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) return undefined;
  return Buffer.from(trimmed, 'base64');
}

function saslElement(name: 'challenge' | 'success', data: Buffer | undefined): Element {
  const element = new Element(name, NS_SASL);
  // RFC 6120 section 6.4.6: success with no additional data is an empty element.
  if (data && data.length > 0) element.t(data.toString('base64'));
  else if (name === 'challenge') element.t('=');
  return element;
}
