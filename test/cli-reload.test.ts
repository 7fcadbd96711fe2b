/**
 * `trellis reload` against a server started by `trellis start`: renewed certificate files at
 * the same paths serve new TLS connections (client and server streams, each host's own
 * certificate, direct TLS with and without SNI) while open sessions go on; and the answer the
 * command prints: what changed, what was refused and why, what waits for a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultConfig } from '../src/config/load.ts';
import { startServer, type TrellisServer } from '../src/server.ts';
import { memoryLogger } from '../src/util/log.ts';
import { selfSigned, writeCertificateFiles, type CertificateAndKey } from './support/lab/ca.ts';
import { authenticate } from './support/login.ts';
import { RawClient, streamHeader } from './support/raw-client.ts';
import { Daemon, trellis } from './support/trellis-cli.ts';

const ADDRESS = '127.0.6.1';

function configText(dir: string, extra = '', hosts = ''): string {
  return `data_dir: ${join(dir, 'data')}
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["${ADDRESS}"], port: 0 }
  c2s_direct_tls: { enabled: true, addresses: ["${ADDRESS}"], port: 0 }
  s2s: { addresses: ["${ADDRESS}"], port: 0 }
c2s:
  scram_iterations: 4096
  auth_failure_delay: 10
${extra}
hosts:
  a.test: { tls: { certificate: ${join(dir, 'a.test.crt')}, key: ${join(dir, 'a.test.key')} } }
  b.test: { tls: { certificate: ${join(dir, 'b.test.crt')}, key: ${join(dir, 'b.test.key')} } }
${hosts}`;
}

function fingerprint(pair: CertificateAndKey): string {
  return new X509Certificate(pair.certPem).fingerprint256;
}

/** The certificate a new STARTTLS stream (client or server) to `domain` is shown. */
async function startTlsFingerprint(port: number, domain: string, kind: 'client' | 'server'): Promise<string> {
  const client = await RawClient.connect(port, ADDRESS);
  try {
    client.send(kind === 'client' ? streamHeader(domain) : `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' from='peer.example' version='1.0'>`);
    await client.waitFor('</stream:features>');
    client.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await client.waitFor('<proceed');
    await client.startTls(undefined, domain);
    return (client.socket as TLSSocket).getPeerX509Certificate()!.fingerprint256;
  } finally {
    client.close();
  }
}

/** The certificate a new direct TLS connection is shown, with SNI for `servername` or without SNI. */
async function directTlsFingerprint(port: number, servername: string | undefined): Promise<string> {
  const socket = tlsConnect({ port, host: ADDRESS, rejectUnauthorized: false, ALPNProtocols: ['xmpp-client'], ...(servername ? { servername } : {}) });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return socket.getPeerX509Certificate()!.fingerprint256;
  } finally {
    socket.destroy();
  }
}

/** A directory with the configuration, the two hosts' certificates and an account, and the server started on it. */
async function installation(): Promise<{ dir: string; configFile: string; daemon: Daemon }> {
  const dir = await mkdtemp(join(tmpdir(), 'trellis-cli-reload-'));
  const configFile = join(dir, 'trellis.yaml');
  writeCertificateFiles(dir, 'a.test', await selfSigned('a.test'));
  writeCertificateFiles(dir, 'b.test', await selfSigned('b.test'));
  await writeFile(configFile, configText(dir));
  const added = await trellis(['adduser', 'alice@a.test', '--password', 'secret', '--config', configFile]);
  assert.equal(added.code, 0, added.stderr);
  return { dir, configFile, daemon: await Daemon.start(configFile) };
}

/** The installation a suite's tests share, started before them and removed after them. */
function useInstallation(): { dir: string; configFile: string; daemon: Daemon } {
  const setup = {} as { dir: string; configFile: string; daemon: Daemon };
  before(async () => {
    Object.assign(setup, await installation());
  });
  after(async () => {
    await setup.daemon?.stop();
    if (setup.dir) await rm(setup.dir, { recursive: true, force: true });
  });
  return setup;
}

describe('trellis reload renews certificates', () => {
  const setup = useInstallation();

  test('new connections get the new certificate files, open sessions go on, a broken pair is refused', async () => {
    const c2s = setup.daemon.port('listening for clients (STARTTLS)');
    const direct = setup.daemon.port('listening for clients (direct TLS)');
    const s2s = setup.daemon.port('listening for servers (STARTTLS)');
    const before = { a: await startTlsFingerprint(c2s, 'a.test', 'client'), b: await startTlsFingerprint(s2s, 'b.test', 'server') };
    assert.equal(await directTlsFingerprint(direct, undefined), before.a, 'without SNI, the first host\'s certificate');

    // A session open across the renewal.
    const session = await RawClient.connect(c2s, ADDRESS);
    session.send(streamHeader('a.test'));
    await session.waitFor('</stream:features>');
    session.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await session.waitFor('<proceed');
    await session.startTls(undefined, 'a.test');
    session.send(streamHeader('a.test'));
    await session.waitFor('</stream:features>');
    await authenticate(session, { username: 'alice', password: 'secret', domain: 'a.test' });

    const renewedA = await selfSigned('a.test');
    const renewedB = await selfSigned('b.test');
    writeCertificateFiles(setup.dir, 'a.test', renewedA);
    writeCertificateFiles(setup.dir, 'b.test', renewedB);
    const run = await trellis(['reload', '--config', setup.configFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`certificate renewed: a\\.test .*SHA-256 ${fingerprint(renewedA)}`));
    assert.match(run.stdout, new RegExp(`certificate renewed: b\\.test .*SHA-256 ${fingerprint(renewedB)}`));
    assert.match(run.stdout, /certificate renewed: conference\.a\.test/, 'the group-chat service shares its host\'s files');

    assert.equal(await startTlsFingerprint(c2s, 'a.test', 'client'), fingerprint(renewedA));
    assert.equal(await startTlsFingerprint(c2s, 'b.test', 'client'), fingerprint(renewedB));
    assert.equal(await startTlsFingerprint(s2s, 'b.test', 'server'), fingerprint(renewedB));
    assert.equal(await directTlsFingerprint(direct, 'b.test'), fingerprint(renewedB));
    assert.equal(await directTlsFingerprint(direct, undefined), fingerprint(renewedA), 'a client without SNI gets the renewed default');
    assert.notEqual(before.a, fingerprint(renewedA));
    assert.notEqual(before.b, fingerprint(renewedB));

    assert.equal((session.socket as TLSSocket).getPeerX509Certificate()!.fingerprint256, before.a, 'the open session keeps its TLS session');
    session.send("<iq type='get' to='a.test' id='v1'><query xmlns='jabber:iq:version'/></iq>");
    assert.match(await session.waitFor('</iq>'), /<name>Trellis<\/name>/);
    session.close();

    // A certificate with another certificate's key: refused, and the one in use stays.
    const other = await selfSigned('b.test');
    await writeFile(join(setup.dir, 'b.test.crt'), other.certPem);
    const refused = await trellis(['reload', '--config', setup.configFile]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /refused: the certificate of b\.test \(.*b\.test\.crt, key .*b\.test\.key\): .*key values mismatch.*; the previous certificate stays in use/);
    assert.equal(await startTlsFingerprint(c2s, 'b.test', 'client'), fingerprint(renewedB));
    assert.match(setup.daemon.output(), /certificate not renewed; the previous one stays in use host=b\.test/);
  });
});

describe('trellis reload reports what changed, what was refused, what needs a restart', () => {
  const setup = useInstallation();

  test('an unchanged file: nothing changed', async () => {
    const run = await trellis(['reload', '--config', setup.configFile]);
    assert.deepEqual([run.code, run.stdout], [0, 'configuration reloaded: nothing changed\n']);
  });

  test('hosts added, changed and removed', async () => {
    await writeFile(setup.configFile, configText(setup.dir, '', '  c.test: {}\n'));
    const added = await trellis(['reload', '--config', setup.configFile]);
    assert.deepEqual([added.code, added.stdout], [0, 'configuration reloaded\n  hosts added: c.test\n']);
    await writeFile(setup.configFile, configText(setup.dir, '', '  c.test: { version: { hidden: true } }\n'));
    const changed = await trellis(['reload', '--config', setup.configFile]);
    assert.deepEqual([changed.code, changed.stdout], [0, 'configuration reloaded\n  hosts changed (rebuilt; their sessions stay): c.test\n']);
    await writeFile(setup.configFile, configText(setup.dir));
    const removed = await trellis(['reload', '--config', setup.configFile]);
    assert.deepEqual([removed.code, removed.stdout], [0, 'configuration reloaded\n  hosts removed (their sessions ended with host-gone): c.test\n']);
  });

  test('a restart-only setting is reported until it is reverted; secrets are not shown', async () => {
    await writeFile(setup.configFile, configText(setup.dir, 's2s: { dialback_secret: "do-not-print-me" }').replace('auth_failure_delay: 10', 'auth_failure_delay: 20'));
    const pending = await trellis(['reload', '--config', setup.configFile]);
    assert.equal(pending.code, 0, pending.stderr);
    assert.match(pending.stdout, /needs a restart: c2s\.auth_failure_delay \(running: 10, in the file: 20\)/);
    assert.match(pending.stdout, /needs a restart: s2s\.dialback_secret \(running: null, in the file: "\(hidden\)"\)/);
    assert.doesNotMatch(pending.stdout, /do-not-print-me/);
    // Still pending on the next reload: it has not taken effect.
    assert.match((await trellis(['reload', '--config', setup.configFile])).stdout, /needs a restart: c2s\.auth_failure_delay/);
    await writeFile(setup.configFile, configText(setup.dir));
    const reverted = await trellis(['reload', '--config', setup.configFile]);
    assert.deepEqual([reverted.code, reverted.stdout], [0, 'configuration reloaded: nothing changed\n']);
  });

  test('a file with errors is refused as a whole, naming the key', async () => {
    await writeFile(setup.configFile, configText(setup.dir, '', '  c.test: { roster: { max_items: lots } }\n'));
    const run = await trellis(['reload', '--config', setup.configFile]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /configuration error; nothing was reloaded, the running server keeps its configuration\n.*trellis\.yaml: hosts\["c\.test"\]\.roster\.max_items: expected an integer/);
    await writeFile(setup.configFile, configText(setup.dir));
    assert.deepEqual(await hosts(), ['a.test', 'b.test']);
  });

  test('a host whose certificate does not load is refused, and nothing changes', async () => {
    await writeFile(join(setup.dir, 'c.test.crt'), 'not a certificate\n');
    await writeFile(join(setup.dir, 'c.test.key'), 'not a key\n');
    await writeFile(setup.configFile, configText(setup.dir, '', `  c.test: { tls: { certificate: ${join(setup.dir, 'c.test.crt')}, key: ${join(setup.dir, 'c.test.key')} } }\n`));
    const run = await trellis(['reload', '--config', setup.configFile]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^trellis: reload failed, the running configuration is unchanged: .+/);
    await writeFile(setup.configFile, configText(setup.dir));
    assert.deepEqual(await hosts(), ['a.test', 'b.test']);
  });

  async function hosts(): Promise<string[]> {
    const status = await trellis(['status', '--json', '--config', setup.configFile]);
    return (JSON.parse(status.stdout) as { hosts: string[] }).hosts;
  }
});

describe('trellis reload to a server started without a configuration file', () => {
  let dir: string;
  let server: TrellisServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-cli-reload-'));
    // What `trellis start` runs with when no file is found, on a test address instead of 5222/5269.
    const defaults = defaultConfig(dir);
    const listener = { ...defaults.listeners.c2s, addresses: [ADDRESS], port: 0 };
    const config = { ...defaults, listeners: { ...defaults.listeners, c2s: listener, s2s: listener }, http: { ...defaults.http, addresses: [ADDRESS], port: 0 } };
    server = await startServer(config, memoryLogger().logger);
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('says there is nothing to reload and exits 1', async () => {
    const run = await trellis(['reload'], { cwd: dir });
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /the server was started without a configuration file; there is nothing to reload/);
  });
});
