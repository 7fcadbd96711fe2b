/**
 * trellis.doap (XEP-0453: the project's features by XEP number, with their status) kept true:
 * every feature a running server advertises in disco#info (its host, an account, the group-chat
 * and publish-subscribe services) belongs to a XEP or RFC the file lists; every XEP listed with
 * a feature here is advertised when listed complete; and every XEP listed is cited in the source
 * (the project cites the XEP section next to each rule it implements).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseElement } from '../src/xml/parse-element.ts';
import type { Element } from '../src/xml/element.ts';
import { login } from './support/login.ts';
import { iqReply, type RawClient } from './support/raw-client.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ROOT = join(import.meta.dirname, '..');
const NS_RDF = 'http://www.w3.org/1999/02/22-rdf-syntax-ns#';
const NS_DOAP = 'http://usefulinc.com/ns/doap#';
const NS_XMPP_DOAP = 'https://linkmauve.fr/ns/xmpp-doap#';
/** XEP-0453 section 4.2. */
const STATUSES = ['complete', 'partial', 'planned', 'deprecated', 'removed', 'wontfix'];

/** Where each disco#info feature the server advertises comes from: 'XEP-nnnn' or 'RFC nnnn'. */
const FEATURE_SPECS: Record<string, string> = {
  'http://jabber.org/protocol/disco#info': 'XEP-0030',
  'http://jabber.org/protocol/disco#items': 'XEP-0030',
  'jabber:iq:last': 'XEP-0012',
  'jabber:iq:private': 'XEP-0049',
  'jabber:iq:register': 'XEP-0077',
  'jabber:iq:roster': 'RFC 6121',
  'jabber:iq:version': 'XEP-0092',
  msgoffline: 'XEP-0160',
  'urn:xmpp:blocking': 'XEP-0191',
  'urn:xmpp:carbons:2': 'XEP-0280',
  'urn:xmpp:ping': 'XEP-0199',
  'urn:xmpp:sid:0': 'XEP-0359',
  'urn:xmpp:time': 'XEP-0202',
  'vcard-temp': 'XEP-0054',
  'urn:xmpp:mam:2': 'XEP-0313',
  'urn:xmpp:mam:2#extended': 'XEP-0313',
  'urn:xmpp:push:0': 'XEP-0357',
  'urn:xmpp:bookmarks:1#compat': 'XEP-0402',
  'urn:xmpp:bookmarks-conversion:0': 'XEP-0411',
  'urn:xmpp:pep-vcard-conversion:0': 'XEP-0398',
  'http://jabber.org/protocol/muc': 'XEP-0045',
  'http://jabber.org/protocol/muc#unique': 'XEP-0045',
  'http://jabber.org/protocol/pubsub': 'XEP-0060',
  'http://jabber.org/protocol/commands': 'XEP-0050',
  'urn:xmpp:occupant-id:0': 'XEP-0421',
  'urn:xmpp:reporting:1': 'XEP-0377',
  'urn:xmpp:reporting:0': 'XEP-0377',
  'urn:xmpp:reporting:reason:spam:0': 'XEP-0377',
  'urn:xmpp:reporting:reason:abuse:0': 'XEP-0377',
};

interface Listed {
  spec: string;
  status: string;
}

/** The RFCs and XEPs trellis.doap says the project implements. */
function readDoap(): Listed[] {
  const rdf = parseElement(readFileSync(join(ROOT, 'trellis.doap'), 'utf8').replace(/^<\?xml[^>]*\?>\s*/, ''));
  assert.equal(rdf.name, 'RDF');
  assert.equal(rdf.xmlns, NS_RDF);
  const project = rdf.getChild('Project', NS_DOAP);
  assert.ok(project, 'a doap:Project');
  const resource = (element: Element): string | undefined => element.attrs[`{${NS_RDF}}resource`] ?? element.attrs['rdf:resource'];
  const listed: Listed[] = [];
  for (const implement of project.getChildren('implements', NS_DOAP)) {
    const supported = implement.getChild('SupportedXep', NS_XMPP_DOAP);
    if (supported === undefined) {
      const rfc = /rfc(\d{4})\.html$/.exec(resource(implement) ?? '');
      assert.ok(rfc, `an <implements/> that is neither an RFC nor a SupportedXep: ${resource(implement)}`);
      listed.push({ spec: `RFC ${rfc[1]}`, status: 'complete' });
      continue;
    }
    const url = resource(supported.getChild('xep', NS_XMPP_DOAP)!) ?? '';
    const xep = /^https:\/\/xmpp\.org\/extensions\/xep-(\d{4})\.html$/.exec(url);
    assert.ok(xep, `a XEP address: ${url}`);
    const status = supported.getChildText('status', NS_XMPP_DOAP) ?? '';
    assert.ok(STATUSES.includes(status), `XEP-${xep[1]}: status '${status}' is none of ${STATUSES.join(', ')}`);
    listed.push({ spec: `XEP-${xep[1]}`, status });
  }
  return listed;
}

/** Every XEP number the source (tests aside) cites. */
function citedInSource(): Set<string> {
  const cited = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) for (const match of readFileSync(path, 'utf8').matchAll(/XEP-(\d{4})/g)) cited.add(`XEP-${match[1]}`);
    }
  };
  walk(join(ROOT, 'src'));
  return cited;
}

describe('trellis.doap (XEP-0453)', () => {
  let server: TestServer;
  let client: RawClient;
  const advertised = new Set<string>();
  before(async () => {
    server = await startTestServer();
    await server.addUser('alice', 'localhost', 'secret');
    ({ client } = await login(server, { username: 'alice', password: 'secret', domain: 'localhost', resource: 'doap' }));
    for (const to of ['localhost', 'alice@localhost', 'conference.localhost', 'pubsub.localhost']) {
      const reply = await iqReply(client, `<iq type='get' to='${to}' id='ID'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
      assert.match(reply, /type=["']result["']/, reply);
      for (const match of reply.matchAll(/<feature var=["']([^"']+)["']/g)) advertised.add(match[1]!);
    }
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  test('lists each specification once, with a status XEP-0453 defines', () => {
    const specs = readDoap().map(({ spec }) => spec);
    assert.deepEqual(specs.filter((spec, index) => specs.indexOf(spec) !== index), []);
    assert.ok(specs.length > 30, `${specs.length} entries`);
  });

  test('every feature the server advertises belongs to a specification listed as implemented', () => {
    const listed = new Map(readDoap().map(({ spec, status }) => [spec, status]));
    const missing: string[] = [];
    for (const feature of advertised) {
      // The pubsub#… features are XEP-0060's optional ones (section 10).
      const spec = FEATURE_SPECS[feature] ?? (feature.startsWith('http://jabber.org/protocol/pubsub#') ? 'XEP-0060' : undefined);
      if (spec === undefined) missing.push(`${feature}: not in this test's map; add it here and its XEP to trellis.doap`);
      else if (!['complete', 'partial'].includes(listed.get(spec) ?? '')) missing.push(`${feature}: ${spec} is not listed as complete or partial`);
    }
    assert.deepEqual(missing, []);
  });

  test('every XEP listed complete that has a disco feature is advertised', () => {
    const withFeatures = new Set(Object.values(FEATURE_SPECS));
    const silent = readDoap().filter(({ spec, status }) => status === 'complete' && withFeatures.has(spec) && ![...advertised].some((feature) => FEATURE_SPECS[feature] === spec));
    assert.deepEqual(silent, []);
  });

  test('every XEP listed as implemented is cited where the source implements it', () => {
    const cited = citedInSource();
    const uncited = readDoap().filter(({ spec, status }) => spec.startsWith('XEP-') && ['complete', 'partial'].includes(status) && !cited.has(spec));
    assert.deepEqual(uncited, []);
  });
});
