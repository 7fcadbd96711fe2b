/**
 * A scripted @xmpp/client for instant-messaging tests, speaking the JSON-lines protocol of
 * test/clients/im_driver.py (a subset of its ops: message, presence, subscribe, approve,
 * get_roster, disconnect; events: session_start, message, presence, subscription_request,
 * roster_push; and send_xml, iq_xml, which send XML as written, for the group-chat tests, whose
 * message and presence events also carry the stanza's XML). Run in its own process with NODE_EXTRA_CA_CERTS naming the server's
 * certificate, so TLS is verified for real.
 * Usage: xmppjs-driver.ts USERNAME DOMAIN PASSWORD PORT RESOURCE
 * PORT may instead be a service URL, such as wss://localhost:5443/xmpp-websocket for the
 * client's WebSocket transport (RFC 7395).
 */
import { createInterface } from 'node:readline';
import { client, xml } from '@xmpp/client';
import { parse } from 'ltx';

const NS_ROSTER = 'jabber:iq:roster';

const [username, domain, password, port, resource] = process.argv.slice(2);
const service = port!.includes('://') ? port : `xmpp://127.0.0.1:${port}`;
const xmpp = client({ service, domain, username, password, resource });

function emit(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

function rosterItems(query: any): Record<string, unknown> {
  const items: Record<string, unknown> = {};
  for (const item of query?.getChildren('item') ?? []) {
    items[item.attrs.jid] = {
      name: item.attrs.name ?? '',
      subscription: item.attrs.subscription ?? 'none',
      ask: item.attrs.ask ?? '',
      groups: item.getChildren('group').map((group: any) => group.text()).sort(),
    };
  }
  return items;
}

function delayStamp(stanza: any): string | null {
  return stanza.getChild('delay', 'urn:xmpp:delay')?.attrs.stamp ?? null;
}

xmpp.on('error', (error: Error) => emit('client_error', { text: error.message }));
xmpp.on('offline', () => {
  emit('disconnected');
  process.exit(0);
});
xmpp.on('stanza', (stanza: any) => {
  const from = stanza.attrs.from ?? '';
  if (stanza.is('message')) {
    if (stanza.attrs.type === 'error') {
      emit('message_error', { from, id: stanza.attrs.id, condition: stanza.getChild('error')?.children[0]?.name ?? '' });
    } else {
      emit('message', { from, to: stanza.attrs.to, type: stanza.attrs.type ?? 'normal', body: stanza.getChildText('body') ?? '', id: stanza.attrs.id, delay: delayStamp(stanza), xml: stanza.toString() });
    }
  } else if (stanza.is('presence')) {
    const type = stanza.attrs.type ?? 'available';
    emit('presence', { from, to: stanza.attrs.to, type, show: stanza.getChildText('show') ?? '', status: stanza.getChildText('status') ?? '', priority: Number(stanza.getChildText('priority') ?? 0), delay: delayStamp(stanza), xml: stanza.toString() });
    if (type === 'subscribe') emit('subscription_request', { from });
  }
});
// RFC 6121 section 2.1.6: a roster push, answered with an empty result.
xmpp.iqCallee.set(NS_ROSTER, 'query', (ctx: any) => {
  emit('roster_push', { items: rosterItems(ctx.element), ver: ctx.element.attrs.ver ?? '' });
  return true;
});

type Command = { op: string; id?: number; [field: string]: any };

async function run(command: Command): Promise<Record<string, unknown> | void> {
  switch (command.op) {
    case 'message':
      return void (await xmpp.send(xml('message', { to: command.to, type: command.type ?? 'chat', id: command.msg_id ?? `m${command.id}` }, xml('body', {}, command.body))));
    case 'presence': {
      const attrs: Record<string, string> = {};
      if (command.to) attrs.to = command.to;
      if (command.type) attrs.type = command.type;
      const children = [];
      if (command.show) children.push(xml('show', {}, command.show));
      if (command.status) children.push(xml('status', {}, command.status));
      if (command.priority !== undefined) children.push(xml('priority', {}, String(command.priority)));
      return void (await xmpp.send(xml('presence', attrs, ...children)));
    }
    case 'subscribe':
      return void (await xmpp.send(xml('presence', { to: command.to, type: 'subscribe' })));
    case 'approve':
      return void (await xmpp.send(xml('presence', { to: command.to, type: 'subscribed' })));
    case 'get_roster': {
      const result = await xmpp.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_ROSTER })), 5000);
      const query = result.getChild('query', NS_ROSTER);
      return { items: rosterItems(query), ver: query?.attrs.ver ?? '' };
    }
    case 'send_xml':
      return void (await xmpp.send(parse(command.xml)));
    case 'iq_xml':
      return { xml: (await xmpp.iqCaller.request(parse(command.xml), 5000)).toString() };
    case 'disconnect':
      await xmpp.stop();
      return;
    default:
      throw new Error(`unknown op ${command.op}`);
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return;
  const command = JSON.parse(line) as Command;
  run(command).then(
    (fields) => emit('result', { id: command.id, ok: true, ...fields }),
    (error: any) => emit('result', { id: command.id, ok: false, error: { condition: error?.condition ?? 'driver-error', type: error?.type ?? '', text: String(error?.message ?? error) } }),
  );
}).on('close', () => void xmpp.stop());

try {
  const address = await xmpp.start();
  emit('session_start', { jid: address.toString() });
} catch (error) {
  emit('login_failed', { text: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  process.exit(1);
}
