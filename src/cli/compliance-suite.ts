/**
 * The XEP-0479 (XMPP Compliance Suites 2023) requirements of the Advanced Server level in the
 * Core, IM and Mobile categories, each judged on what `compliance-probe.ts` saw.
 */
import type { Element } from '../xml/element.ts';
import type { DiscoInfo, ProbeFacts } from './compliance-probe.ts';

export type Category = 'Core' | 'IM' | 'Mobile';

export interface Requirement {
  category: Category;
  feature: string;
  providers: string;
  /** true when the facts show it; the text says what was seen or missed */
  check(facts: ProbeFacts): { ok: boolean; evidence: string };
}

export interface RequirementResult {
  requirement: Requirement;
  ok: boolean;
  evidence: string;
}

const has = (info: DiscoInfo | undefined, feature: string) => info?.features.includes(feature) === true;
const hasIdentity = (info: DiscoInfo | undefined, category: string, type: string) => info?.identities.some((identity) => identity.category === category && identity.type === type) === true;
const childIn = (features: Element, name: string, xmlns: string) => features.getChild(name, xmlns) !== undefined;

function feature(where: string, info: (facts: ProbeFacts) => DiscoInfo | undefined, name: string) {
  return (facts: ProbeFacts) => ({ ok: has(info(facts), name), evidence: `${name} in ${where}` });
}

/** A service in the server's disco#items that advertises `name` (with the identity, when given). */
function service(name: string, what: string, identity?: [category: string, type: string]) {
  return (facts: ProbeFacts) => {
    const found = [...facts.services].find(([, info]) => has(info, name) && (!identity || hasIdentity(info, ...identity)))?.[0];
    return { ok: found !== undefined, evidence: found ? `${what} service at ${found}` : `no ${what} service in disco#items` };
  };
}

function allOf(...checks: ((facts: ProbeFacts) => { ok: boolean; evidence: string })[]) {
  return (facts: ProbeFacts) => {
    const results = checks.map((check) => check(facts));
    return { ok: results.every((result) => result.ok), evidence: results.map((result) => (result.ok ? '' : 'missing: ') + result.evidence).join('; ') };
  };
}

const server = (facts: ProbeFacts) => facts.server;
const account = (facts: ProbeFacts) => facts.account;
const room = (facts: ProbeFacts) => facts.room;

export const ADVANCED_SERVER: readonly Requirement[] = [
  { category: 'Core', feature: 'Core features', providers: 'RFC 6120', check: (facts) => ({ ok: childIn(facts.boundFeatures, 'bind', 'urn:ietf:params:xml:ns:xmpp-bind'), evidence: 'SASL, then resource binding' }) },
  {
    category: 'Core',
    feature: 'TLS',
    providers: 'RFC 7590',
    check: (facts) => ({ ok: childIn(facts.plainFeatures, 'starttls', 'urn:ietf:params:xml:ns:xmpp-tls') && /^TLSv1\.[23]$/.test(facts.tlsProtocol ?? ''), evidence: `STARTTLS, ${facts.tlsProtocol ?? 'no TLS'}` }),
  },
  { category: 'Core', feature: 'Direct TLS', providers: 'XEP-0368', check: (facts) => ({ ok: facts.directTls === 'answered', evidence: `direct TLS port: ${facts.directTls}` }) },
  { category: 'Core', feature: 'Feature discovery', providers: 'XEP-0030', check: feature('server disco#info', server, 'http://jabber.org/protocol/disco#info') },
  {
    category: 'Core',
    feature: 'Feature broadcasts',
    providers: 'XEP-0115',
    check: (facts) => ({ ok: childIn(facts.tlsFeatures, 'c', 'http://jabber.org/protocol/caps') || childIn(facts.boundFeatures, 'c', 'http://jabber.org/protocol/caps'), evidence: 'caps in the stream features' }),
  },
  { category: 'Core', feature: 'Server extensibility', providers: 'XEP-0114', check: (facts) => ({ ok: facts.component === 'answered', evidence: `component port: ${facts.component}` }) },
  { category: 'Core', feature: 'Event publishing', providers: 'XEP-0163', check: (facts) => ({ ok: hasIdentity(facts.account, 'pubsub', 'pep'), evidence: 'pubsub/pep identity on the account' }) },
  { category: 'IM', feature: 'Core features', providers: 'RFC 6121', check: (facts) => ({ ok: facts.rosterAnswered, evidence: 'roster get answered' }) },
  { category: 'IM', feature: 'User avatar compatibility', providers: 'XEP-0398, XEP-0153', check: feature('account disco#info', account, 'urn:xmpp:pep-vcard-conversion:0') },
  { category: 'IM', feature: 'vcard-temp', providers: 'XEP-0054', check: feature('server disco#info', server, 'vcard-temp') },
  { category: 'IM', feature: 'Outbound message synchronization', providers: 'XEP-0280', check: feature('server disco#info', server, 'urn:xmpp:carbons:2') },
  { category: 'IM', feature: 'User blocking', providers: 'XEP-0191', check: feature('server disco#info', server, 'urn:xmpp:blocking') },
  { category: 'IM', feature: 'Group chat', providers: 'XEP-0045, XEP-0249', check: service('http://jabber.org/protocol/muc', 'group chat', ['conference', 'text']) },
  {
    category: 'IM',
    feature: 'Advanced group chat',
    providers: 'XEP-0048, XEP-0313 (rooms), XEP-0402, XEP-0410',
    check: allOf(
      feature('server disco#info (XEP-0048 bookmarks in private storage)', server, 'jabber:iq:private'),
      feature('a room\'s disco#info', room, 'urn:xmpp:mam:2'),
      feature('account disco#info', account, 'urn:xmpp:bookmarks:1#compat'),
      feature('a room\'s disco#info', room, 'http://jabber.org/protocol/muc#self-ping-optimization'),
    ),
  },
  { category: 'IM', feature: 'Persistent storage of private data via PubSub', providers: 'XEP-0223', check: feature('account disco#info', account, 'http://jabber.org/protocol/pubsub#publish-options') },
  { category: 'IM', feature: 'Private XML storage', providers: 'XEP-0049', check: feature('server disco#info', server, 'jabber:iq:private') },
  { category: 'IM', feature: 'Stream management', providers: 'XEP-0198', check: (facts) => ({ ok: childIn(facts.boundFeatures, 'sm', 'urn:xmpp:sm:3'), evidence: 'sm in the stream features' }) },
  { category: 'IM', feature: 'History storage / retrieval', providers: 'XEP-0313', check: feature('account disco#info', account, 'urn:xmpp:mam:2') },
  { category: 'IM', feature: 'File upload', providers: 'XEP-0363', check: service('urn:xmpp:http:upload:0', 'upload') },
  { category: 'Mobile', feature: 'Stream management', providers: 'XEP-0198', check: (facts) => ({ ok: childIn(facts.boundFeatures, 'sm', 'urn:xmpp:sm:3'), evidence: 'sm in the stream features' }) },
  { category: 'Mobile', feature: 'Client state indication', providers: 'XEP-0352', check: (facts) => ({ ok: childIn(facts.boundFeatures, 'csi', 'urn:xmpp:csi:0'), evidence: 'csi in the stream features' }) },
  { category: 'Mobile', feature: 'Third party push notifications', providers: 'XEP-0357', check: feature('account disco#info', account, 'urn:xmpp:push:0') },
];

export function judge(facts: ProbeFacts, requirements: readonly Requirement[] = ADVANCED_SERVER): RequirementResult[] {
  return requirements.map((requirement) => ({ requirement, ...requirement.check(facts) }));
}

/** A Markdown table: category, feature, providers, result, evidence. */
export function resultTable(results: readonly RequirementResult[]): string {
  const rows = results.map(({ requirement, ok, evidence }) => `| ${requirement.category} | ${requirement.feature} | ${requirement.providers} | ${ok ? 'pass' : 'FAIL'} | ${evidence} |`);
  return ['| Category | Feature | Providers | Result | Evidence |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
