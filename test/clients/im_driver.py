"""A scripted slixmpp client (Debian python3-slixmpp) for instant-messaging tests.

Usage: im_driver.py JID PASSWORD HOST PORT CA_FILE
Logs in over STARTTLS with SCRAM-SHA-256-PLUS (channel binding), verifying the server certificate against CA_FILE, then
reads one JSON command per line on stdin and writes one JSON event per line on stdout; end of
input disconnects.

Commands carry an "op" and optionally an "id"; each is answered by
{"event": "result", "id": ..., "ok": true, ...} or {"event": "result", "id": ..., "ok": false,
"error": {"condition", "type", "text"}}. Ops: message, presence, subscribe (with "preauth", a XEP-0379 token), approve, deny,
unsubscribe, get_roster, update_roster, remove_roster, disco_info, disco_items, block, block_report (XEP-0377: jids,
reason spam or abuse, text), unblock, get_blocked, vcard_get, vcard_set, version, label_catalog (XEP-0258: the catalog "for" a JID, asked of the own server), ping (with "no_to", an IQ without 'to'), carbons
(XEP-0280: "enable" true or false), csi (XEP-0352: "state" active or inactive), last_activity
(XEP-0012), entity_time (XEP-0202), mam_iterate (XEP-0313 with XEP-0059: every page of the own
archive, "page" results a time, optionally "with" a JID and in "reverse"), disconnect; with stream management also sm_state, abort and
reconnect. A message may carry "private" (XEP-0280 <private/>) or be a bare "chat_state" (XEP-0085).

With IM_DRIVER_SM=1 in the environment the client uses stream management (XEP-0198, slixmpp's
xep_0198 plugin): it enables it with resumption after binding and, on a new connection after
"abort", resumes the session. "abort" drops the TCP connection without closing the stream, as a
client whose network went away; "reconnect" connects again. Events sm_enabled, session_resumed,
sm_failed report what the server answered. IM_DRIVER_DEBUG=1 logs slixmpp's debug output on
stderr.

Unsolicited events: session_start, failed_auth, message, message_error, carbon (direction sent or
received, with the forwarded message's from, to and body), chat_state, presence (the type of an
available presence is "available", its show apart), subscription_request, roster_push,
blocked, unblocked, stream_error, disconnected (the process ends then, unless the connection was
dropped by "abort").
Subscription requests are never answered automatically: the test decides.
"""
import asyncio
import json
import logging
import os
import sys
import threading

from slixmpp import ClientXMPP, JID
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import ET

IQ_TIMEOUT = 5


def emit(event, **fields):
    sys.stdout.write(json.dumps({'event': event, **fields}) + '\n')
    sys.stdout.flush()


def delay_stamp(stanza):
    """XEP-0203 delay stamp of a stanza, or None."""
    if stanza.xml.find('{urn:xmpp:delay}delay') is None:
        return None
    return str(stanza['delay']['stamp'].isoformat())


def roster_items(iq):
    return {str(jid): {
        'name': item.get('name', ''),
        'subscription': item.get('subscription', 'none'),
        'ask': item.get('ask', ''),
        'approved': item.get('approved', ''),
        'groups': sorted(item.get('groups', [])),
    } for jid, item in iq['roster']['items'].items()}


def error_of(exception):
    if isinstance(exception, IqError):
        error = exception.iq['error']
        return {'condition': error['condition'], 'type': error['type'], 'text': error['text']}
    if isinstance(exception, IqTimeout):
        return {'condition': 'timeout', 'type': '', 'text': 'no answer in %ss' % IQ_TIMEOUT}
    return {'condition': 'driver-error', 'type': '', 'text': repr(exception)}


class Driver:
    def __init__(self, jid, password, ca_file, mechanism):
        self.client = ClientXMPP(jid, password, sasl_mech=mechanism)
        # set by "abort": the connection is gone but the process waits for "reconnect"
        self.aborted = False
        # (host, port) to connect to
        self.address = None
        self.client.ca_certs = ca_file
        # RFC 6121 section 3.1.3: the user, here the test, decides on each subscription request.
        self.client.auto_authorize = None
        self.client.auto_subscribe = False
        for plugin in ('xep_0012', 'xep_0030', 'xep_0054', 'xep_0085', 'xep_0092', 'xep_0191', 'xep_0199', 'xep_0202', 'xep_0203', 'xep_0280', 'xep_0352', 'xep_0059', 'xep_0313', 'xep_0258', 'xep_0377'):
            self.client.register_plugin(plugin)
        # Connected by address, slixmpp would send no SNI; connecting by domain name, as clients
        # normally do, it names the JID's domain (RFC 6066 section 3), so do that here too.
        self.client.add_event_handler('connected', lambda _event: setattr(self.client, 'default_domain', self.client.boundjid.domain))
        self.client.add_event_handler('session_start', self.on_session_start)
        self.client.add_event_handler('failed_auth', lambda _event: emit('failed_auth'))
        self.client.add_event_handler('message', self.on_message)
        self.client.add_event_handler('message_error', self.on_message_error)
        self.client.add_event_handler('chatstate', lambda msg: emit('chat_state', **{'from': str(msg['from']), 'state': msg['chat_state']}))
        self.client.add_event_handler('carbon_received', lambda msg: self.on_carbon('received', msg['carbon_received']))
        self.client.add_event_handler('carbon_sent', lambda msg: self.on_carbon('sent', msg['carbon_sent']))
        self.client.add_event_handler('presence', self.on_presence)
        self.client.add_event_handler('roster_subscription_request', self.on_subscription_request)
        self.client.add_event_handler('roster_update', self.on_roster_update)
        self.client.add_event_handler('blocked', lambda iq: self.on_block_push('blocked', iq, 'block'))
        self.client.add_event_handler('unblocked', lambda iq: self.on_block_push('unblocked', iq, 'unblock'))
        self.client.add_event_handler('stream_error', lambda error: emit('stream_error', condition=error['condition'], text=error['text']))
        self.client.add_event_handler('disconnected', self.on_disconnected)
        if os.environ.get('IM_DRIVER_SM') == '1':
            self.client.register_plugin('xep_0198')
            # Ask for an acknowledgement of every stanza sent, so that none waits for a window.
            self.client['xep_0198'].window = 1
            self.client.add_event_handler('sm_enabled', lambda enabled: emit('sm_enabled', id=enabled['id'], resume=enabled['resume'] in ('true', '1', True)))
            self.client.add_event_handler('session_resumed', lambda _resumed: emit('session_resumed', handled=self.client['xep_0198'].handled))
            self.client.add_event_handler('sm_failed', lambda failed: emit('sm_failed', xml=str(failed)))

    # events

    def on_session_start(self, _event):
        emit('session_start', jid=str(self.client.boundjid))

    def on_message(self, msg):
        if msg['type'] == 'error':
            return
        if msg.xml.find('{urn:xmpp:carbons:2}received') is not None or msg.xml.find('{urn:xmpp:carbons:2}sent') is not None:
            return  # reported as a carbon event
        if msg.xml.find('{urn:xmpp:mam:2}result') is not None:
            return  # an archive result, returned by mam_iterate
        emit('message', **{'from': str(msg['from']), 'to': str(msg['to']), 'type': msg['type'],
                           'body': msg['body'], 'id': msg['id'], 'delay': delay_stamp(msg),
                           'children': [child.tag for child in msg.xml]})

    def on_carbon(self, direction, forwarded):
        emit('carbon', direction=direction, **{'from': str(forwarded['from']), 'to': str(forwarded['to']),
                                               'body': forwarded['body'], 'id': forwarded['id']})

    def on_message_error(self, msg):
        error = msg['error']
        emit('message_error', **{'from': str(msg['from']), 'id': msg['id'], 'body': msg['body'],
                                 'condition': error['condition'], 'error_type': error['type']})

    def on_presence(self, presence):
        # slixmpp reports the show value as the type of an available presence
        kind = 'available' if presence['type'] in presence.showtypes else presence['type']
        fields = {'from': str(presence['from']), 'to': str(presence['to']), 'type': kind,
                  'show': presence['show'], 'status': presence['status'], 'priority': presence['priority'],
                  'delay': delay_stamp(presence)}
        if presence['type'] == 'error':
            fields['condition'] = presence['error']['condition']
        # XEP-0153 section 3.2: the avatar hash, when the presence carries one ('' for an empty <photo/>)
        update = presence.xml.find('{vcard-temp:x:update}x')
        if update is not None:
            photo = update.find('{vcard-temp:x:update}photo')
            fields['photo'] = None if photo is None else (photo.text or '')
        emit('presence', **fields)

    def on_subscription_request(self, presence):
        emit('subscription_request', **{'from': str(presence['from'])})

    def on_roster_update(self, iq):
        # A roster result also raises roster_update; only a set is a push (RFC 6121 section 2.1.6).
        # slixmpp answers the push itself.
        if iq['type'] == 'set':
            emit('roster_push', items=roster_items(iq), ver=iq['roster']['ver'])

    def on_block_push(self, event, iq, child):
        emit(event, jids=sorted(str(jid) for jid in iq[child]['items']))
        iq.reply().send()

    def on_disconnected(self, _event):
        emit('disconnected')
        if not self.aborted:
            self.client.loop.stop()

    # commands

    async def run(self, command):
        op = command.get('op')
        handler = getattr(self, 'op_' + str(op), None)
        if handler is None:
            emit('result', id=command.get('id'), ok=False, error={'condition': 'bad-request', 'type': '', 'text': 'unknown op %r' % op})
            return
        try:
            fields = await handler(command) or {}
            emit('result', id=command.get('id'), ok=True, **fields)
        except Exception as exception:  # every failure becomes an event the test can assert on
            emit('result', id=command.get('id'), ok=False, error=error_of(exception))

    async def op_message(self, command):
        message = self.client.make_message(mto=command['to'], mbody=command.get('body'), mtype=command.get('type', 'chat'))
        if 'msg_id' in command:
            message['id'] = command['msg_id']
        if command.get('private'):
            message.enable('carbon_private')
        if command.get('chat_state'):
            message['chat_state'] = command['chat_state']
        message.send()

    async def op_presence(self, command):
        self.client.send_presence(pshow=command.get('show'), pstatus=command.get('status'),
                                  ppriority=command.get('priority'), pto=command.get('to'), ptype=command.get('type'))

    async def op_subscribe(self, command):
        if 'preauth' not in command:
            self.client.send_presence_subscription(pto=command['to'])
            return
        # XEP-0379 section 3.4: the request carries the invitation's token.
        presence = self.client.make_presence(pto=command['to'], ptype='subscribe')
        presence.append(ET.Element('{urn:xmpp:pars:0}preauth', {'token': command['preauth']}))
        presence.send()

    async def op_approve(self, command):
        self.client.send_presence(pto=command['to'], ptype='subscribed')

    async def op_deny(self, command):
        self.client.send_presence(pto=command['to'], ptype='unsubscribed')

    async def op_unsubscribe(self, command):
        self.client.send_presence(pto=command['to'], ptype='unsubscribe')

    async def op_get_roster(self, command):
        """RFC 6121 section 2.6: slixmpp sends the version it holds; "full" asks as a client without
        a cached roster (ver=''). "items" is what the server returned (nothing when it answers
        that the cached roster is current), "roster" the client's view after the fetch."""
        if command.get('full'):
            self.client.client_roster.version = ''
        iq = await self.client.get_roster(timeout=IQ_TIMEOUT)
        return {'items': roster_items(iq), 'ver': iq['roster']['ver'], 'roster': self.cached_roster()}

    def cached_roster(self):
        roster = self.client.client_roster
        return {str(jid): {
            'name': roster[jid]['name'],
            'subscription': roster[jid]['subscription'],
            'ask': 'subscribe' if roster[jid]['pending_out'] else '',
            'groups': sorted(roster[jid]['groups']),
        } for jid in roster.keys()}

    async def op_update_roster(self, command):
        kwargs = {'timeout': IQ_TIMEOUT}
        if 'name' in command:
            kwargs['name'] = command['name']
        if 'groups' in command:
            kwargs['groups'] = command['groups']
        await self.client.update_roster(JID(command['jid']), **kwargs)

    async def op_remove_roster(self, command):
        await self.client.del_roster_item(JID(command['jid']))

    async def op_disco_info(self, command):
        iq = await self.client['xep_0030'].get_info(jid=command['jid'], node=command.get('node'), local=False, timeout=IQ_TIMEOUT)
        info = iq['disco_info']
        return {'identities': sorted([category, kind, name or ''] for category, kind, _lang, name in info.get_identities(dedupe=False)),
                'features': sorted(info.get_features(dedupe=False))}

    async def op_label_catalog(self, command):
        # XEP-0258 section 4: asked of the own server, the catalog's 'to' naming whom it is for.
        iq = self.client.Iq()
        iq['type'] = 'get'
        iq['to'] = self.client.boundjid.domain
        iq['security_label_catalog']['to'] = command['for']
        result = await iq.send(timeout=IQ_TIMEOUT)
        catalog = result['security_label_catalog']
        # slixmpp's CatalogItem names its element "catalog", so the items are read from the XML.
        ns = '{urn:xmpp:sec-label:catalog:2}'
        label = '{urn:xmpp:sec-label:0}'
        items = [{'selector': item.get('selector', ''), 'default': item.get('default', '') == 'true',
                  'marking': item.findtext(label + 'securitylabel/' + label + 'displaymarking', '')}
                 for item in catalog.xml.findall(ns + 'item')]
        return {'to': str(catalog['to']), 'name': catalog['name'], 'restrict': catalog['restrict'], 'items': items}

    async def op_disco_items(self, command):
        iq = await self.client['xep_0030'].get_items(jid=command['jid'], node=command.get('node'), local=False, timeout=IQ_TIMEOUT)
        return {'items': sorted([str(jid), node or '', name or ''] for jid, node, name in iq['disco_items'].get_items())}

    async def op_block(self, command):
        await self.client['xep_0191'].block([JID(jid) for jid in command['jids']], timeout=IQ_TIMEOUT)

    async def op_block_report(self, command):
        """XEP-0377 as slixmpp 1.8 has it: one report (spam or abuse, with a text) on the block."""
        iq = self.client.make_iq_set()
        iq['block']['items'] = [JID(jid) for jid in command['jids']]
        iq['block']['report'][command['reason']] = True
        iq['block']['report']['text'] = command.get('text', '')
        await iq.send(timeout=IQ_TIMEOUT)

    async def op_unblock(self, command):
        await self.client['xep_0191'].unblock([JID(jid) for jid in command.get('jids', [])], timeout=IQ_TIMEOUT)

    async def op_get_blocked(self, _command):
        iq = await self.client['xep_0191'].get_blocked(timeout=IQ_TIMEOUT)
        return {'jids': sorted(str(jid) for jid in iq['blocklist']['items'])}

    async def op_vcard_get(self, command):
        iq = await self.client['xep_0054'].get_vcard(JID(command['jid']) if command.get('jid') else None, local=False, timeout=IQ_TIMEOUT)
        vcard = iq['vcard_temp']
        return {'fn': vcard['FN'], 'nicknames': list(vcard['NICKNAME'])}

    async def op_vcard_set(self, command):
        vcard = self.client['xep_0054'].make_vcard()
        vcard['FN'] = command.get('fn', '')
        vcard['NICKNAME'] = command.get('nickname', '')
        await self.client['xep_0054'].publish_vcard(vcard, timeout=IQ_TIMEOUT)

    async def op_version(self, command):
        iq = await self.client['xep_0092'].get_version(JID(command['jid']), timeout=IQ_TIMEOUT)
        version = iq['software_version']
        return {'name': version['name'], 'version': version['version'], 'os': version['os']}

    async def op_ping(self, command):
        if command.get('no_to'):
            # RFC 6120 section 10.3.3: no 'to' addresses the account, as clients such as Profanity ping.
            iq = self.client.make_iq_get()
            iq.enable('ping')
            await iq.send(timeout=IQ_TIMEOUT)
            return
        await self.client['xep_0199'].send_ping(command.get('jid') or self.client.boundjid.domain, timeout=IQ_TIMEOUT)

    async def op_carbons(self, command):
        plugin = self.client['xep_0280']
        await (plugin.enable if command.get('enable', True) else plugin.disable)(timeout=IQ_TIMEOUT)

    async def op_mam_iterate(self, command):
        # XEP-0313 through slixmpp's xep_0313 and xep_0059: every page of the own archive, "page" results a time.
        own = JID(self.client.boundjid.bare)
        with_jid = JID(command['with']) if command.get('with') else None
        messages = []
        async for result in self.client['xep_0313'].iterate(jid=own, with_jid=with_jid, reverse=command.get('reverse', False), rsm={'max': command.get('page', 10)}):
            forwarded = result['mam_result']['forwarded']
            messages.append({'id': result['mam_result']['id'], 'from': str(forwarded['stanza']['from']), 'body': forwarded['stanza']['body'],
                             'stamp': str(forwarded['delay']['stamp'].isoformat())})
        return {'messages': messages}

    async def op_csi(self, command):
        plugin = self.client['xep_0352']
        if not plugin.enabled:
            raise RuntimeError('the server did not offer client state indication')
        (plugin.send_active if command['state'] == 'active' else plugin.send_inactive)()

    async def op_last_activity(self, command):
        iq = await self.client['xep_0012'].get_last_activity(JID(command['jid']), timeout=IQ_TIMEOUT)
        return {'seconds': iq['last_activity']['seconds'], 'status': iq['last_activity']['status']}

    async def op_entity_time(self, command):
        iq = await self.client['xep_0202'].get_entity_time(JID(command['jid']), timeout=IQ_TIMEOUT)
        # The elements as the server wrote them: slixmpp's own reading of <utc/> appends a second
        # 'Z' to the XEP-0082 form with its 'Z', and fails.
        time = iq.xml.find('{urn:xmpp:time}time')
        return {'utc': time.findtext('{urn:xmpp:time}utc'), 'tzo': time.findtext('{urn:xmpp:time}tzo')}

    async def op_disconnect(self, _command):
        self.aborted = False
        if self.client.transport:
            self.client.disconnect()
        else:
            self.client.loop.stop()

    async def op_sm_state(self, _command):
        sm = self.client['xep_0198']
        return {'sm_id': sm.sm_id, 'handled': sm.handled, 'enabled': sm.enabled_in,
                'unacked': len(sm.unacked_queue)}

    async def op_abort(self, _command):
        """Drops the TCP connection without closing the stream (no </stream:stream>)."""
        self.aborted = True
        disconnected = self.next_event('disconnected')
        self.client.abort()
        await asyncio.wait_for(disconnected, 5)

    async def op_reconnect(self, _command):
        """Connects again; with a stream management id slixmpp resumes instead of binding."""
        self.aborted = False
        resumable = 'xep_0198' in self.client.plugin and self.client['xep_0198'].sm_id
        resumed = self.next_event('session_resumed') if resumable else None
        # The address given at the start again, not the DNS records of the domain that the
        # 'connected' handler set for SNI.
        self.client.default_domain = ''
        self.client.connect(self.address)
        if resumed is not None:
            await asyncio.wait_for(resumed, 10)

    def next_event(self, name):
        """A future for the next firing of an event, listening from now on."""
        future = self.client.loop.create_future()
        self.client.add_event_handler(name, lambda data: future.done() or future.set_result(data), disposable=True)
        return future


def read_commands(driver, loop):
    """Reads stdin on its own thread; end of input disconnects."""
    for line in sys.stdin:
        line = line.strip()
        if line:
            command = json.loads(line)
            asyncio.run_coroutine_threadsafe(driver.run(command), loop)
    asyncio.run_coroutine_threadsafe(driver.op_disconnect(None), loop)


def main(driver_class=None):
    """Runs the driver; a script that extends it passes its subclass (or replaces im_driver.Driver)."""
    driver_class = driver_class or Driver
    jid, password, host, port, ca_file = sys.argv[1:6]
    mechanism = sys.argv[6] if len(sys.argv) > 6 else 'SCRAM-SHA-256-PLUS'
    logging.basicConfig(level=logging.DEBUG if os.environ.get('IM_DRIVER_DEBUG') else logging.ERROR)
    driver = driver_class(jid, password, ca_file, mechanism)
    loop = driver.client.loop
    threading.Thread(target=read_commands, args=(driver, loop), daemon=True).start()
    driver.address = (host, int(port))
    driver.client.connect(driver.address)
    loop.run_forever()


if __name__ == '__main__':
    main()
