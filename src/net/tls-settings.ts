/**
 * The one place the TLS settings (config `tls_settings`, docs/security.md) become Node's
 * options. Every TLS socket of the server starts from them: the secure context of each hosted
 * domain, the direct TLS listeners, STARTTLS in both directions and outgoing direct TLS.
 */
import { constants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import type { TlsSettings } from '../config/types.ts';

export function tlsOptions(settings: TlsSettings): SecureContextOptions {
  const serverPreference = settings.prefer_server_ciphers ? constants.SSL_OP_CIPHER_SERVER_PREFERENCE : 0;
  return {
    minVersion: settings.min_version,
    maxVersion: settings.max_version,
    ciphers: settings.ciphers,
    ecdhCurve: settings.ecdh_curves,
    honorCipherOrder: settings.prefer_server_ciphers,
    // Renegotiation is refused whoever starts it: a client that renegotiates makes the server
    // do a full handshake per request (a cheap denial of service), TLS 1.3 dropped it, and
    // XMPP never needs it. A peer that tries gets a no_renegotiation alert (RFC 5246 section 7.2.2).
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION | serverPreference,
  };
}
