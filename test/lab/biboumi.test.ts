/**
 * A real gateway as an external component (XEP-0114, docs/gateways.md): biboumi (Debian
 * `biboumi`, XMPP to IRC) connects to Trellis as biboumi.localhost, and a private ngircd (Debian
 * `ngircd`) serves irc.test, found through the lab DNS. An XMPP user joins
 * #chan%irc.test@biboumi.localhost with slixmpp's MUC plugin, and a raw IRC client in the test
 * sits in #chan: messages go both ways.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClientDriver, DriverEvent } from '../support/client-driver.ts';
import { startLabDns, type LabDns } from '../support/lab/dns.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, removeScratchDir, startDaemon, tail, waitForListeners, type Daemon } from '../support/lab/process.ts';
import { startSlixmppMuc } from '../support/muc-clients.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const IRC_ADDRESS = '127.0.0.77';
/** biboumi tries 6697 and 6670 with TLS first, then 6667 in the clear. */
const IRC_PORT = 6667;
const GATEWAY = 'biboumi.localhost';
const SECRET = 'biboumi secret';
const ROOM = `#chan%irc.test@${GATEWAY}`;
const PASSWORD = 'correct horse';

/** A raw IRC client (RFC 2812) over a socket: registers, answers PING, records every line. */
class IrcClient {
  readonly lines: string[] = [];
  #socket: Socket;
  #buffer = '';
  #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let end;
      while ((end = this.#buffer.indexOf('\r\n')) >= 0) {
        const line = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        if (line.startsWith('PING ')) this.send(`PONG ${line.slice(5)}`);
        this.lines.push(line);
      }
      for (const wake of [...this.#waiters]) wake();
    });
    socket.on('error', () => {});
  }

  static async connect(address: string, port: number, nick: string): Promise<IrcClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const candidate = connect({ host: address, port }, () => resolve(candidate));
      candidate.once('error', reject);
    });
    const client = new IrcClient(socket);
    client.send(`NICK ${nick}`);
    client.send(`USER ${nick} 0 * :Trellis test`);
    // RPL_WELCOME (001) ends registration.
    await client.waitLine((line) => / 001 /.test(line));
    return client;
  }

  send(line: string): void {
    this.#socket.write(line + '\r\n');
  }

  /** Resolves with the first line from now on (or already received after `from`) matching. */
  waitLine(predicate: (line: string) => boolean, timeoutMs = 15_000, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.slice(from).find(predicate);
        if (found === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`no IRC line matching ${predicate.toString()} within ${timeoutMs} ms; last lines:\n${this.lines.slice(-15).join('\n')}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

describe('biboumi (XMPP-IRC gateway) as an external component', () => {
  const closers: (() => unknown)[] = [];
  let dir: string;
  let server: TestServer;
  let dns: LabDns;
  let ngircd: Daemon;
  let biboumi: Daemon;
  let irc: IrcClient;
  let alice: ClientDriver;

  before(async () => {
    assertInsideLab();
    dir = makeScratchDir('biboumi');
    closers.push(() => removeScratchDir(dir));
    dns = await startLabDns([{ name: 'test', records: [{ name: 'irc.test', type: 'A', address: IRC_ADDRESS }] }]);
    closers.push(() => dns.stop());

    const ngircdConfig = join(dir, 'ngircd.conf');
    writeFileSync(
      ngircdConfig,
      [
        '[Global]',
        'Name = irc.test',
        'Info = Trellis test IRC server',
        `Listen = ${IRC_ADDRESS}`,
        `Ports = ${IRC_PORT}`,
        `PidFile = ${join(dir, 'ngircd.pid')}`,
        'MotdPhrase = "Trellis test"',
        'ServerUID = 0',
        'ServerGID = 0',
        '[Options]',
        'DNS = no',
        'Ident = no',
        'PAM = no',
        '[Limits]',
        'MaxConnectionsIP = 0',
        '',
      ].join('\n'),
    );
    ngircd = startDaemon('ngircd', '/usr/sbin/ngircd', ['--nodaemon', '--config', ngircdConfig], { outputFile: join(dir, 'ngircd.log') });
    closers.push(() => ngircd.stop());
    await waitForListeners(ngircd, [{ address: IRC_ADDRESS, port: IRC_PORT }], { logFile: ngircd.outputFile });

    server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { enabled: false }
  component: { addresses: ["127.0.0.1"], port: 0 }
components:
  ${GATEWAY}: { secret: "${SECRET}" }
`);
    closers.push(() => server.stop());
    await server.addUser('alice', 'localhost', PASSWORD);

    const biboumiConfig = join(dir, 'biboumi.cfg');
    writeFileSync(
      biboumiConfig,
      [
        `hostname=${GATEWAY}`,
        `password=${SECRET}`,
        'xmpp_server_ip=127.0.0.1',
        `port=${server.server.listening.component[0]!.port}`,
        'admin=',
        `db_name=${join(dir, 'biboumi.sqlite')}`,
        'identd_port=0',
        `policy_directory=${dir}`,
        'realname_customization=true',
        'log_file=',
        'log_level=0',
        '',
      ].join('\n'),
    );
    biboumi = startDaemon('biboumi', '/usr/bin/biboumi', [biboumiConfig], { outputFile: join(dir, 'biboumi.log') });
    closers.push(() => biboumi.stop());
    await server.waitForLog('component connected', GATEWAY).catch((error: Error) => {
      throw new Error(`${error.message}\nbiboumi:\n${tail(biboumi.outputFile)}`);
    });

    irc = await IrcClient.connect(IRC_ADDRESS, IRC_PORT, 'ircuser');
    closers.push(() => irc.close());
    irc.send('JOIN #chan');
    await irc.waitLine((line) => / 366 ircuser #chan /.test(line));

    alice = await startSlixmppMuc(server, 'alice@localhost/desk', PASSWORD);
    closers.push(() => alice.stop());
  });

  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  const groupchat = (body: string) => (event: DriverEvent) => event.event === 'message' && event.type === 'groupchat' && event.body === body;

  it('an XMPP user joins an IRC channel through biboumi and messages go both ways', async () => {
    const joined = await alice.command({ op: 'join', room: ROOM, nick: 'alice' }, 30_000);
    assert.ok(joined.ok, `join failed: ${JSON.stringify(joined)}\nbiboumi:\n${tail(biboumi.outputFile)}`);
    // biboumi's IRC connection for alice joins the channel under her nickname.
    await irc.waitLine((line) => /^:alice!\S+ JOIN :?#chan/.test(line));

    alice.command({ op: 'groupchat', room: ROOM, body: 'hello from XMPP' });
    await irc.waitLine((line) => /^:alice!\S+ PRIVMSG #chan :hello from XMPP$/.test(line));

    irc.send('PRIVMSG #chan :hello from IRC');
    const received = await alice.waitEvent(groupchat('hello from IRC'), 15_000);
    assert.equal(received.from, `${ROOM}/ircuser`);

    const status = server.server.components.routes.get(GATEWAY)!;
    assert.ok(status.connection && status.connection.stanzasIn > 0 && status.connection.stanzasOut > 0);
  });
});
