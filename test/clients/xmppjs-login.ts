/**
 * Logs in with @xmpp/client, pings the server and reports what happened. Run in its own process
 * with NODE_EXTRA_CA_CERTS naming the server's certificate, so TLS is verified for real.
 * Usage: xmppjs-login.ts USERNAME DOMAIN PASSWORD PORT
 * Prints one JSON line: {"ok": bool, "jid": bound full JID, "error": text}.
 */
import { client, xml } from '@xmpp/client';

const [username, domain, password, port] = process.argv.slice(2);
const xmpp = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, password, resource: 'xmppjs' });
const result: { ok: boolean; jid?: string; error?: string } = { ok: false };
xmpp.on('error', (error: Error) => {
  result.error ??= error.message;
});
const timer = setTimeout(() => {
  result.error ??= 'timed out';
  void xmpp.stop();
}, 20_000);
try {
  const address = await xmpp.start();
  await xmpp.iqCaller.request(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 5000);
  Object.assign(result, { ok: true, jid: address.toString() });
} catch (error) {
  result.error ??= error instanceof Error ? error.message : String(error);
} finally {
  clearTimeout(timer);
  await xmpp.stop().catch(() => {});
}
console.log(JSON.stringify(result));
process.exitCode = result.ok ? 0 : 1;
