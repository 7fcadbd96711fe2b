/**
 * A boundary (docs/peering.md, "A boundary"): two networks, n1.example and n2.example, talk only
 * through a pair of edges, each a `trellis start` process from the page's files as they are. A
 * message crosses four servers (leaf, edge, edge, leaf) both ways; at the edges presence is
 * folded, a message over the size limit and a file transfer offer are bounced to their sender
 * with the error and text of the rule, and each refusal is audited and raises an alert; a
 * security label is checked against the clearances at the first edge and written in the other
 * network's policy on the way over.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminJson } from '../../src/admin/client.ts';
import { createTestCa } from '../support/lab/ca.ts';
import { startExamples, writeDomainCertificates } from '../support/lab/docs-configs.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir } from '../support/lab/process.ts';
import { loginTo, type TrellisProcess } from '../support/lab/trellis-process.ts';
import type { RawClient } from '../support/raw-client.ts';

const EXAMPLES = ['boundary-leaf-n1', 'boundary-edge-n1', 'boundary-edge-n2', 'boundary-leaf-n2'];
const RULE = 's2s.peering["n2.example"]';

describe('a boundary: two networks through a pair of edges', () => {
  let dir = '';
  let servers = new Map<string, TrellisProcess>();
  let n1: RawClient;
  let n2: RawClient;

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('boundary');
    const authority = await createTestCa();
    await writeDomainCertificates(dir, authority, ['n1.example', 'edge1.n1.example', 'edge2.n2.example', 'n2.example']);
    servers = await startExamples(dir, 'peering.md', EXAMPLES, { 'boundary-leaf-n1': 'n1.example', 'boundary-leaf-n2': 'n2.example' });
    const ca = Buffer.from(authority.certPem);
    n1 = await loginTo(servers.get('boundary-leaf-n1')!, ca, 'u', 'n1.example');
    n2 = await loginTo(servers.get('boundary-leaf-n2')!, ca, 'u', 'n2.example');
  });

  after(async () => {
    n1?.close();
    n2?.close();
    for (const server of servers.values()) await server.stop();
    if (dir !== '') removeScratchDir(dir);
  });

  /** The stanza `name` with this id that `client` received, once it has. */
  const stanzaWithId = async (client: RawClient, name: string, id: string): Promise<string> => {
    const pattern = new RegExp(`<${name}\\b[^>]*id="${id}"(?:[^>]*/>|[\\s\\S]*?</${name}>)`);
    return pattern.exec(await client.waitFor(pattern, 20_000))![0];
  };
  const edgeAudit = async () => {
    const socket = servers.get('boundary-edge-n1')!.config.admin.socket;
    const { alerts } = await adminJson<{ alerts: { rule: string }[] }>(socket, 'GET', '/v1/alerts');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { records } = await adminJson<{ records: { rule: string; verdict: string; direction: string; kind: string }[] }>(socket, 'GET', '/v1/audit?verdict=refuse');
    return { alerts, records };
  };

  it('both edges run as edges', async () => {
    for (const edge of ['boundary-edge-n1', 'boundary-edge-n2']) await servers.get(edge)!.waitForOutput('running as an edge');
  });

  it('a message crosses leaf, edge, edge, leaf with its content, and the answer comes back', async () => {
    n1.send(`<message type='chat' id='b-1' to='u@n2.example/r'><body>across the boundary</body></message>`);
    const message = await stanzaWithId(n2, 'message', 'b-1');
    assert.match(message, /from="u@n1\.example\/r"/);
    assert.match(message, /<body>across the boundary<\/body>/);
    assert.doesNotMatch(message, /urn:xmpp:trellis:relay/);
    n2.send(`<message type='chat' id='b-2' to='u@n1.example/r'><body>and back</body></message>`);
    assert.match(await stanzaWithId(n1, 'message', 'b-2'), /<body>and back<\/body>/);
  });

  it('presence is folded at the edges: no show, status, priority or caps cross', async () => {
    n1.send(`<presence id='b-3' to='u@n2.example/r'><show>dnd</show><status>in a meeting</status><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.org' ver='abc='/></presence>`);
    const presence = await stanzaWithId(n2, 'presence', 'b-3');
    assert.match(presence, /from="u@n1\.example\/r"/);
    assert.doesNotMatch(presence, /<show>|<status>|<priority>|caps/);
  });

  it('a message over the size limit is bounced to its sender by the first edge, and never arrives', async () => {
    const big = 'x'.repeat(3000);
    n1.send(`<message type='chat' id='b-4' to='u@n2.example/r'><body>${big}</body></message>`);
    const error = await stanzaWithId(n1, 'message', 'b-4');
    assert.match(error, /type="error"/);
    assert.match(error, /<error type="modify"[^>]*><policy-violation/);
    assert.match(error, new RegExp(`at most 2048 cross to or from n2\\.example \\(${RULE.replace(/[[\]\\."]/g, '\\$&')}\\.max_message_bytes\\)`));
    assert.doesNotMatch(n2.received, /id="b-4"/);
  });

  it('a file transfer offer is bounced with policy-violation, never reaching the other network', async () => {
    n1.send(`<iq type='set' id='b-5' to='u@n2.example/r'><si xmlns='http://jabber.org/protocol/si' id='s5' profile='http://jabber.org/protocol/si/profile/file-transfer'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='plans.pdf' size='1000'/></si></iq>`);
    const error = await stanzaWithId(n1, 'iq', 'b-5');
    assert.match(error, /type="error"/);
    assert.match(error, /<policy-violation/);
    assert.match(error, /s2s\.peering\[\\?"n2\.example\\?"\]\.block|s2s\.peering\[&quot;n2\.example&quot;\]\.block/);
    assert.doesNotMatch(n2.received, /id="b-5"/);
  });

  it('each refusal is audited at the edge, with an alert', async () => {
    const { alerts, records } = await edgeAudit();
    for (const check of ['max_message_bytes', 'block']) {
      assert.ok(alerts.some((alert) => alert.rule === `${RULE}.${check}`), `no alert for ${check}: ${JSON.stringify(alerts)}`);
      assert.ok(records.some((record) => record.rule === `${RULE}.${check}` && record.direction === 'out'), `no record for ${check}: ${JSON.stringify(records)}`);
    }
  });

  /** A message from n1 labelled `classification` under n1's policy (docs/labels.md, Trellis's XML form). */
  const labelled = (id: string, classification: string): string =>
    `<message type='chat' id='${id}' to='u@n2.example/r'><body>labelled ${classification}</body><securitylabel xmlns='urn:xmpp:sec-label:0'><displaymarking>${classification.toUpperCase()}</displaymarking><label><seclabel xmlns='urn:xmpp:trellis:sec-label:0' policy='n1' classification='${classification}'/></label></securitylabel></message>`;

  it("a labelled message is within every clearance, and arrives written in the other network's policy with the original beside it", async () => {
    n1.send(labelled('b-6', 'restricted'));
    const message = await stanzaWithId(n2, 'message', 'b-6');
    assert.match(message, /<body>labelled restricted<\/body>/);
    assert.match(message, /<displaymarking>INTERNAL<\/displaymarking>/);
    assert.match(message, /<label><seclabel xmlns="urn:xmpp:trellis:sec-label:0" policy="n2" classification="internal"/);
    assert.match(message, /<equivalentlabel><seclabel xmlns="urn:xmpp:trellis:sec-label:0" policy="n1" classification="restricted"/);
  });

  it("a label above the recipient's clearance is bounced by the first edge with forbidden, audited with its marking", async () => {
    n1.send(labelled('b-7', 'secret'));
    const error = await stanzaWithId(n1, 'message', 'b-7');
    assert.match(error, /type="error"/);
    assert.match(error, /<error type="auth"[^>]*><forbidden/);
    assert.match(error, /the label SECRET is not within the recipient u@n2\.example's clearance RESTRICTED \(s2s\.security_labels\.clearances\[(?:"|&quot;)\*@n2\.example(?:"|&quot;)\]\)/);
    assert.doesNotMatch(n2.received, /id="b-7"/);
    const socket = servers.get('boundary-edge-n1')!.config.admin.socket;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const { records } = await adminJson<{ records: { rule: string; label?: string; to: string }[] }>(socket, 'GET', '/v1/audit?verdict=refuse');
    assert.ok(records.some((record) => record.rule === 's2s.security_labels.clearances["*@n2.example"]' && record.label === 'SECRET'), JSON.stringify(records));
  });
});
