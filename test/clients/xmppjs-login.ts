/**
 * Logs in with @xmpp/client, pings the server and reports what happened. Run in its own process
 * with NODE_EXTRA_CA_CERTS naming the server's certificate, so TLS is verified for real. The
 * client speaks SASL2 (XEP-0388) with Bind 2 (XEP-0386) where the server offers them; given a
 * user-agent id it also asks for a FAST token (XEP-0484), and given a token (with PASSWORD '')
 * it logs in with that alone.
 * Usage: xmppjs-login.ts USERNAME DOMAIN PASSWORD PORT [USER_AGENT_ID [TOKEN_JSON]]
 * Prints one JSON line: {"ok": bool, "jid": bound full JID, "sm": stream management enabled,
 * "token": the FAST token issued {mechanism, token, expiry}, "error": text}.
 */
import { client, xml } from '@xmpp/client';

const [username, domain, password, port, userAgentId, tokenJson] = process.argv.slice(2);
const token = tokenJson ? (JSON.parse(tokenJson) as { mechanism: string; token: string; expiry: string }) : undefined;
const userAgent = userAgentId ? xml('user-agent', { id: userAgentId }, xml('software', {}, 'trellis-test'), xml('device', {}, 'test runner')) : undefined;
const xmpp = client({ service: `xmpp://127.0.0.1:${port}`, domain, username, resource: 'xmppjs', userAgent, credentials: { username, password: password || undefined, token } });
const result: { ok: boolean; jid?: string; sm?: boolean; token?: unknown; error?: string } = { ok: false };
xmpp.fast.saveToken = async (issued: unknown) => {
  result.token = issued;
};
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
  Object.assign(result, { ok: true, jid: address.toString(), sm: xmpp.streamManagement.enabled });
} catch (error) {
  result.error ??= error instanceof Error ? error.message : String(error);
} finally {
  clearTimeout(timer);
  await xmpp.stop().catch(() => {});
}
console.log(JSON.stringify(result));
process.exitCode = result.ok ? 0 : 1;
