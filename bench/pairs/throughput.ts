/**
 * Throughput of many domain pairs: two hosts of `domains` domains each (one certificate per
 * host naming them all), every pair of domains carrying `perPair` messages from the first host to
 * the second at once, over one connection (s2s.multiplex on, the default) or over one connection
 * per pair (off). Clients may send as fast as they like (c2s.rate raised): the server links are
 * what is measured, with s2s.rate at its default or raised.
 */
import { writeCertificateFiles } from '../../test/support/lab/ca.ts';
import { startLabDns, type LabRecord } from '../../test/support/lab/dns.ts';
import { establishedConnections } from '../../test/support/lab/sockets.ts';
import { labHosts } from '../../test/support/lab/trellis-hosts.ts';

const H1 = '127.0.2.21';
const H2 = '127.0.2.22';

export interface ThroughputResult {
  multiplex: boolean;
  /** s2s.rate as configured: "default" or "raised" */
  s2sRate: 'default' | 'raised';
  pairs: number;
  connections: number;
  messages: number;
  seconds: number;
  perSecond: number;
}

const UNLIMITED_RATE = '{ bytes_per_second: 1073741824, burst_bytes: 1073741824, stanzas_per_second: 10000000, burst_stanzas: 10000000 }';

export async function measureThroughput(dir: string, domains: number, perPair: number, multiplex: boolean, s2sRate: 'default' | 'raised'): Promise<ThroughputResult> {
  const ps = Array.from({ length: domains }, (_, i) => `p${i + 1}.test`);
  const qs = Array.from({ length: domains }, (_, i) => `q${i + 1}.test`);
  const srv = (domain: string, host: string): LabRecord => ({ name: `_xmpp-server._tcp.${domain}`, type: 'SRV', port: 5269, target: host });
  const dns = await startLabDns([
    { name: 'test', records: [{ name: 'xmpp.h1.test', type: 'A', address: H1 }, { name: 'xmpp.h2.test', type: 'A', address: H2 }, ...ps.map((d) => srv(d, 'xmpp.h1.test')), ...qs.map((d) => srv(d, 'xmpp.h2.test'))] },
  ]);
  const lab = await labHosts(dir, { bidi: true });
  try {
    const host = async (address: string, name: string, list: string[]) => {
      const files = writeCertificateFiles(dir, `${name}-${multiplex}-${s2sRate}`, await lab.ca.issue({ names: [name, ...list] }));
      const s2s = [multiplex ? '' : '  multiplex: false', s2sRate === 'raised' ? `  rate: ${UNLIMITED_RATE}` : ''].filter(Boolean).join('\n');
      const limits = `limits: { s2s_per_address: ${4 * domains * domains}, s2s_new_connections: { per_address: ${4 * domains * domains} } }`;
      const top = `tls: { certificate: "${files.certFile}", key: "${files.keyFile}" }\nc2s: { scram_iterations: 4096, rate: ${UNLIMITED_RATE} }\n${limits}\nlog: { level: warn }`;
      return lab.start(address, list.map((domain) => `  ${domain}: {}\n`).join(''), s2s, { top });
    };
    const h1 = await host(H1, 'xmpp.h1.test', ps);
    const h2 = await host(H2, 'xmpp.h2.test', qs);
    await Promise.all([lab.loginUsers(h1, ps), lab.loginUsers(h2, qs)]);
    const receivers = qs.map((to) => lab.clients.get(to)!);
    /** Messages with `tag` the receivers have read: counted and dropped as they come, so the clients stay cheap. */
    const arrived = (tag: string): number => {
      let count = 0;
      for (const client of receivers) {
        const text = client.received;
        const end = text.lastIndexOf('</message>');
        if (end < 0) continue;
        count += text.slice(0, end).split(`<body>${tag} `).length - 1;
        client.received = text.slice(end);
      }
      return count;
    };
    const exchange = async (senders: string[], tag: string, count: number): Promise<void> => {
      for (let n = 0; n < count; n++) for (const from of senders) for (const to of qs) lab.clients.get(from)!.send(`<message to='u@${to}/r' type='chat'><body>${tag} ${n} ${from}</body></message>`);
      const expected = senders.length * qs.length * count;
      const deadline = Date.now() + 120_000;
      for (let total = arrived(tag); total < expected; total += arrived(tag)) {
        if (Date.now() > deadline) throw new Error(`${total} of ${expected} messages delivered in 120 s`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    // Every pair authorized first (one sender at a time: with a connection per pair, 400 DNS
    // lookups at once overwhelm the lab's resolver).
    for (const from of ps) await exchange([from], 'warm', 1);
    const connections = establishedConnections([H1, H2], 5269);
    const started = performance.now();
    await exchange(ps, 'load', perPair);
    const seconds = (performance.now() - started) / 1000;
    const messages = domains * domains * perPair;
    return { multiplex, s2sRate, pairs: domains * domains, connections, messages, seconds, perSecond: messages / seconds };
  } finally {
    await lab.stop();
    await dns.stop();
  }
}
