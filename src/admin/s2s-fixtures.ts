/** A server connection as the s2s layer reports it, for the tests of what the admin API and the console make of it. */
import type { S2sConnectionInfo } from '../s2s/context.ts';

export const ROW: S2sConnectionInfo = {
  id: '3f2a9c1e-0000-4000-8000-000000000001',
  direction: 'out',
  remoteDomain: 'remote.example',
  remoteAddress: '192.0.2.7:5269',
  remoteIp: '192.0.2.7',
  remoteHost: 'xmpp.remote.example',
  tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  certificate: 'valid',
  authentication: 'sasl-external',
  level: 'trusted',
  bidi: false,
  domains: ['local.example -> remote.example', 'local.example <- remote.example'],
  serverNames: ['remote.example'],
  delegatedNames: [],
  pairs: [
    { local: 'local.example', remote: 'remote.example', direction: 'out', method: 'sasl-external', level: 'trusted' },
    { local: 'local.example', remote: 'remote.example', direction: 'in', method: 'sasl-external', level: 'trusted' },
  ],
  connectedAt: Date.UTC(2026, 0, 1),
  idleSeconds: 4,
  bytesIn: 10,
  bytesOut: 20,
  stanzasIn: 3,
  stanzasOut: 4,
  errorsIn: 1,
  errorsOut: 0,
  readStanzasPerSecond: 1000,
};
