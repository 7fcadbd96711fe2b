/**
 * The elements of SASL2 (XEP-0388, urn:xmpp:sasl:2) with its inline features Bind 2
 * (XEP-0386), stream management (XEP-0198 section 6 "Inline") and FAST (XEP-0484): the
 * <authentication/> stream feature, the <authenticate/> request read into what it asks for,
 * and the answers. The mechanisms run in src/auth through `SaslNegotiation`, as for RFC 6120
 * SASL, so SCRAM with channel binding and the XEP-0474 hash behave the same in both.
 */
import { createHash } from 'node:crypto';
import { pooledRandomBytes } from '../util/random-pool.ts';
import { prepareResource } from '../jid/jid.ts';
import { NS_SM } from '../net/stream-management.ts';
import { Element } from '../xml/element.ts';
import { NS_CARBONS, NS_SASL } from '../xml/namespaces.ts';
import { NS_CSI } from './client-state.ts';

export const NS_SASL2 = 'urn:xmpp:sasl:2';
export const NS_BIND2 = 'urn:xmpp:bind:0';
export const NS_FAST = 'urn:xmpp:fast:0';

/** XEP-0388 section 2.2: the user-agent id is a UUID (RFC 4122), at most this long as text. */
const MAX_USER_AGENT_ID = 64;
/** A Bind 2 tag is a short name of the client software (XEP-0386 section 2.2). */
const MAX_TAG_CHARS = 64;

export interface AuthenticationFeatureInput {
  mechanisms: readonly string[];
  /** the session features Bind 2 can enable (XEP-0386 section 2.1), empty to not offer Bind 2 */
  bindFeatures: readonly string[];
  streamManagement: boolean;
  /** the HT mechanisms FAST offers, empty to not offer FAST */
  fastMechanisms: readonly string[];
}

/** XEP-0388 section 2.1: <authentication/> with the mechanisms, and the inline features in <inline/>. */
export function authenticationFeature(input: AuthenticationFeatureInput): Element {
  const feature = new Element('authentication', NS_SASL2);
  for (const name of input.mechanisms) feature.c('mechanism').t(name);
  const inline = feature.c('inline');
  if (input.bindFeatures.length > 0) {
    const features = inline.c('bind', {}, NS_BIND2).c('inline');
    for (const name of input.bindFeatures) features.c('feature', { var: name });
  }
  if (input.streamManagement) inline.c('sm', {}, NS_SM);
  if (input.fastMechanisms.length > 0) {
    const fast = inline.c('fast', {}, NS_FAST);
    for (const name of input.fastMechanisms) fast.c('mechanism').t(name);
  }
  return feature;
}

export interface UserAgent {
  id?: string;
  software?: string;
  device?: string;
}

export interface BindRequest {
  tag?: string;
  carbons: boolean;
  streamManagement?: Element;
  /** XEP-0352: the state the session starts in */
  inactive?: boolean;
}

export interface Sasl2Request {
  mechanism: string;
  /** the base64 text of <initial-response/>, '' when absent */
  initialResponse: string;
  userAgent: UserAgent;
  bind?: BindRequest;
  /** XEP-0198 <resume/> inline */
  resume?: Element;
  /** XEP-0484: the mechanism a new token is asked for */
  requestToken?: string;
  /** XEP-0484: the client logs in with a token, and may ask for it to be invalidated */
  fast?: { invalidate: boolean };
}

/** Reads an <authenticate/>; returns the reason when it is malformed. */
export function readAuthenticate(element: Element): Sasl2Request | string {
  const mechanism = element.attrs.mechanism;
  if (!mechanism) return "<authenticate/> needs a 'mechanism' attribute";
  const request: Sasl2Request = { mechanism, initialResponse: element.getChildText('initial-response') ?? '', userAgent: {} };
  const agent = element.getChild('user-agent');
  if (agent) {
    const id = agent.attrs.id;
    if (id !== undefined && (id.length === 0 || id.length > MAX_USER_AGENT_ID)) return `the user-agent id must be 1 to ${MAX_USER_AGENT_ID} characters`;
    request.userAgent = { id, software: agent.getChildText('software')?.slice(0, 256), device: agent.getChildText('device')?.slice(0, 256) };
  }
  const bind = element.getChild('bind', NS_BIND2);
  if (bind) {
    const tag = bind.getChildText('tag')?.trim();
    request.bind = {
      tag: tag ? tag.slice(0, MAX_TAG_CHARS) : undefined,
      carbons: bind.getChild('enable', NS_CARBONS) !== undefined,
      streamManagement: bind.getChild('enable', NS_SM),
      inactive: bind.getChild('inactive', NS_CSI) ? true : bind.getChild('active', NS_CSI) ? false : undefined,
    };
  }
  request.resume = element.getChild('resume', NS_SM);
  request.requestToken = element.getChild('request-token', NS_FAST)?.attrs.mechanism;
  const fast = element.getChild('fast', NS_FAST);
  if (fast) request.fast = { invalidate: fast.attrs.invalidate === 'true' || fast.attrs.invalidate === '1' };
  return request;
}

/**
 * XEP-0386 section 2.2.1: "[tag]/[generated]". With a user-agent id the generated part is the
 * same for every login of that client (so a new login replaces its own old session, RFC 6120
 * section 7.7.2.2) without showing the id; without one it is random.
 */
export function bindResource(account: string, tag: string | undefined, userAgentId: string | undefined): string {
  const generated = userAgentId === undefined
    ? pooledRandomBytes(6).toString('base64url')
    : createHash('sha256').update(`${account}\0${tag ?? ''}\0${userAgentId}`).digest().subarray(0, 6).toString('base64url');
  if (tag !== undefined) {
    try {
      return prepareResource(`${tag}/${generated}`);
    } catch {
      // A tag that is no valid resource is left out.
    }
  }
  return generated;
}

/** RFC 6120 SASL elements as SASL2 ones: a challenge keeps its data, a failure its condition and text (XEP-0388 section 3.4.2). */
export function asSasl2(element: Element): Element {
  if (element.name === 'challenge') return new Element('challenge', NS_SASL2, {}, [element.text() === '=' ? '' : element.text()]);
  const failure = new Element('failure', NS_SASL2);
  for (const child of element.elements()) {
    if (child.name === 'text') failure.c('text').t(child.text());
    else failure.c(child.name, {}, NS_SASL);
  }
  return failure;
}

export function sasl2Failure(condition: string, text: string): Element {
  const failure = new Element('failure', NS_SASL2);
  failure.c(condition, {}, NS_SASL);
  failure.c('text').t(text);
  return failure;
}

/** XEP-0388 section 3.4.1: the additional data of the mechanism, the authorized identity, then the inline answers. */
export function sasl2Success(additionalData: Buffer | undefined, identity: string, inline: readonly Element[]): Element {
  const success = new Element('success', NS_SASL2);
  if (additionalData && additionalData.length > 0) success.c('additional-data').t(additionalData.toString('base64'));
  success.c('authorization-identifier').t(identity);
  success.append(...inline);
  return success;
}

/** XEP-0386 section 2.2: <bound/> with the answers of the features it enabled. */
export function boundElement(answers: readonly Element[]): Element {
  return new Element('bound', NS_BIND2, {}, [...answers]);
}

/** XEP-0484 section 3.3: the new token and when it expires (XEP-0082 DateTime). */
export function tokenElement(token: string, expiresAt: number): Element {
  return new Element('token', NS_FAST, { token, expiry: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z') });
}
