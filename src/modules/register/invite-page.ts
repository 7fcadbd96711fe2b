/**
 * The landing page of an invitation (XEP-0401 "Landing Page", XEP-0379 section 3.3) at
 * `/invite/<token>` on the HTTP listener: what a person without an XMPP app sees when the
 * invitation reaches them as a web link. It says who invites them to what, offers the `xmpp:`
 * link as a button, and names apps to install first. Unknown, used and expired tokens get one
 * answer, as in registration. The token is in the path, so the page is never cached and sends
 * no referrer; it runs no script.
 */
import type { ServerResponse } from 'node:http';
import { sendText, type HttpRoute } from '../../net/http-listener.ts';
import type { Storage } from '../../storage/types.ts';
import { escapeText, escapeAttr } from '../../xml/serialize.ts';
import { findInvite, inviteUri, type Invite } from './invites.ts';

export const INVITE_PAGE_PATH = '/invite/';

/**
 * Apps that follow invitation links (XEP-0401), by platform: a short list to start from, the
 * visitor's platform first when its User-Agent names one (XEP-0401 "Landing Page": a client
 * recommendation based on the detected operating system).
 */
const APPS: readonly { platform: string; matches: RegExp; apps: readonly { name: string; url: string }[] }[] = [
  { platform: 'Android', matches: /Android/, apps: [{ name: 'Conversations', url: 'https://conversations.im/' }, { name: 'Monocles Chat', url: 'https://monocles.chat/' }] },
  { platform: 'iPhone, iPad and Mac', matches: /iPhone|iPad|iPod|Macintosh/, apps: [{ name: 'Monal', url: 'https://monal-im.org/' }] },
  { platform: 'Windows and Linux', matches: /Windows|Linux|X11/, apps: [{ name: 'Gajim', url: 'https://gajim.org/' }, { name: 'Dino', url: 'https://dino.im/' }] },
];

const HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
};

export function invitePageRoute(storage: Storage, hosted: (domain: string) => boolean): HttpRoute {
  return {
    path: INVITE_PAGE_PATH,
    async request(request, response) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return sendText(response, 405, 'use GET', { Allow: 'GET, HEAD' });
      // Tokens are base64url: nothing in one is escaped, so the path is taken as it is.
      const token = (request.url ?? '').split('?')[0]!.slice(INVITE_PAGE_PATH.length);
      const invite = await findInvite(storage, token);
      if (invite === undefined || !hosted(invite.domain)) return send(response, 404, gonePage(), request.method);
      send(response, 200, invitationPage(invite, token, request.headers['user-agent']), request.method);
    },
  };
}

function send(response: ServerResponse, status: number, html: string, method: string | undefined): void {
  response.writeHead(status, { ...HEADERS, 'Content-Length': Buffer.byteLength(html) });
  response.end(method === 'HEAD' ? undefined : html);
}

/** The page for a good invitation: who invites to what, the link as a button, and apps to install (for `userAgent`'s platform first). */
export function invitationPage(invite: Invite, token: string, userAgent = ''): string {
  const uri = inviteUri(invite, token);
  const heading = invite.inviter !== undefined ? `${invite.inviter} invites you to chat` : `You are invited to join ${invite.domain}`;
  const what =
    invite.inviter === undefined
      ? `Your app creates your account on ${invite.domain}${invite.username === undefined ? '' : ` with the name ${invite.username}`}.`
      : `Your app adds ${invite.inviter} to your contacts${invite.contactOnly ? '' : `; if you have no account yet, it can create one on ${invite.domain}`}.`;
  // Android's User-Agent also says Linux: the first platform that matches is the visitor's.
  const own = APPS.find(({ matches }) => matches.test(userAgent));
  const ordered = own === undefined ? APPS : [own, ...APPS.filter((entry) => entry !== own)];
  const apps = ordered
    .map(({ platform, apps: list }) => `<li>${escapeText(platform)}${platform === own?.platform ? ' (this device)' : ''}: ${list.map(({ name, url }) => `<a href="${escapeAttr(url)}">${escapeText(name)}</a>`).join(', ')}</li>`)
    .join('\n      ');
  return page(
    heading,
    `<h1>${escapeText(heading)}</h1>
    <p>${escapeText(what)}</p>
    <p><a class="open" href="${escapeAttr(uri)}">Open the invitation in your app</a></p>
    <p>Nothing happens? Install an XMPP app first, then open this page again and press the button:</p>
    <ul>
      ${apps}
    </ul>
    <p>Other apps: <a href="https://xmpp.org/software/?platform=all-platforms">xmpp.org</a>.</p>
    <p class="small">The invitation works once, until ${escapeText(new Date(invite.expires).toUTCString())}. Its link: <code>${escapeText(uri)}</code></p>`,
  );
}

function gonePage(): string {
  return page('Invitation not found', '<h1>Invitation not found</h1>\n    <p>This invitation is unknown, used or expired. Ask the person who sent it for a new one.</p>');
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="robots" content="noindex">
  <title>${escapeText(title)}</title>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
    a.open { display: inline-block; padding: 0.75rem 1.25rem; border-radius: 0.5rem; background: #1d5fbf; color: #fff; text-decoration: none; font-weight: 600; }
    .small { font-size: 0.85rem; color: #555; word-break: break-all; }
  </style>
</head>
<body>
  <main>
    ${body}
  </main>
</body>
</html>
`;
}
