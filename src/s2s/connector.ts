/**
 * Finding and reaching the next hop for a remote domain (RFC 6120 section 3.2): its servers
 * from SRV records (XEP-0368 direct TLS among them) or its own addresses, tried in order.
 */
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { resolveAddresses, resolveServerTargets, type ServerTarget } from '../net/dns.ts';
import type { NextHop } from '../policy/verdict.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { S2sContext } from './context.ts';
import { linkTargets, settingsFor } from './link-profile.ts';

/** A host and port that serves remote domains: the key outgoing connections are kept under. */
export function hopOf(target: ServerTarget): string {
  return `${target.host}:${target.port}`;
}

/** The servers of `domain`, in the order to try them, or the error its stanzas bounce with. */
export async function resolveHops(domain: string, context: S2sContext): Promise<ServerTarget[] | StanzaError> {
  let resolution;
  try {
    resolution = await resolveServerTargets(domain, context.dns);
  } catch (error) {
    context.router.traffic.s2sAttempts.add('failed', 'dns');
    return new StanzaError('remote-server-not-found', `DNS lookup failed: ${(error as Error).message}`);
  }
  // RFC 6120 section 8.3.3.16: the domain does not resolve to a server.
  if (resolution.kind === 'not-found') {
    context.router.traffic.s2sAttempts.add('failed', 'no-server');
    return new StanzaError('remote-server-not-found', `no XMPP server found for ${domain} (${resolution.reason})`);
  }
  return resolution.targets;
}

/**
 * The servers to try for `domain` by its route (src/policy): its own (DNS, RFC 6120 section
 * 3.2), another domain's found the same way, or a configured host and port, with no SRV lookup.
 */
export async function nextHops(domain: string, via: NextHop, context: S2sContext): Promise<ServerTarget[] | StanzaError> {
  if (via.kind === 'direct') return resolveHops(domain, context);
  if (via.kind === 'domain') return resolveHops(via.domain, context);
  if (via.kind === 'link') {
    // A link of protocol s2s: its fixed address. Other links take their stanzas before they reach s2s.
    const profile = context.links?.byName(via.link);
    if (profile) return linkTargets(profile, domain, context);
    return new StanzaError('remote-server-not-found', `${domain} is routed over the link ${via.link}, not by server-to-server connections`);
  }
  const resolved = await resolveAddresses(context.dns, via.host);
  if (resolved.addresses.length === 0) return new StanzaError('remote-server-not-found', `the next hop ${via.host} of ${domain} has no address${resolved.failed ? ' (DNS failure)' : ''}`);
  return [{ host: via.host, port: via.port, directTls: false, addresses: resolved.addresses }];
}

/** SNI names the remote domain (RFC 6120 section 5.4.3.1); RFC 6066 forbids IP addresses there. */
export function serverName(domain: string): { servername?: string } {
  return isIP(domain) ? {} : { servername: domain };
}

export interface Connected {
  socket: Socket;
  target: ServerTarget;
}

/**
 * Connects to the first target and address that answers and policy allows, for a stream from
 * `local` to `remote` (RFC 6120 section 3.2.1); the error when none does (section 10.4.3).
 */
export async function connectToHop(targets: readonly ServerTarget[], remote: string, local: string, context: S2sContext): Promise<Connected | StanzaError> {
  const failures: string[] = [];
  for (const target of targets) {
    for (const address of target.addresses) {
      const verdict = context.policy.current.connection({ domain: remote, address, direction: 'out' });
      if (verdict.kind !== 'continue') {
        context.router.traffic.s2sAttempts.add('failed', 'policy');
        failures.push(`${address}: ${verdict.text}`);
        continue;
      }
      try {
        const socket = await connectTo(target, address, remote, local, context);
        context.router.traffic.s2sAttempts.add('connected', '');
        return { socket, target };
      } catch (error) {
        // The system's error code (ECONNREFUSED, EHOSTUNREACH, ...) or our timeout.
        context.router.traffic.s2sAttempts.add('failed', (error as NodeJS.ErrnoException).code ?? 'timeout');
        failures.push(`${address}:${target.port}: ${(error as Error).message}`);
      }
    }
  }
  return new StanzaError('remote-server-timeout', `could not connect to ${remote}: ${failures.join('; ') || 'no address'}`);
}

function connectTo(target: ServerTarget, address: string, remote: string, local: string, context: S2sContext): Promise<Socket> {
  const timeoutMs = settingsFor(context, remote).connect_timeout * 1000;
  return new Promise((resolve, reject) => {
    const socket: Socket = target.directTls
      ? // XEP-0368 section 3: TLS at once, SNI naming the domain, ALPN "xmpp-server".
        tlsConnect({ host: address, port: target.port, ...serverName(remote), ALPNProtocols: ['xmpp-server'], ...context.tls.clientOptions(local), rejectUnauthorized: false })
      : tcpConnect({ host: address, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once(target.directTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
