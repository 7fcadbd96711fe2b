"""A scripted slixmpp client for personal eventing (XEP-0163) and PubSub (XEP-0060) tests.

Usage: pep_driver.py JID PASSWORD HOST PORT CA_FILE [INTEREST ...]
The im_driver.py client (same command protocol) with slixmpp's entity capabilities (xep_0115),
PEP (xep_0163), pubsub (xep_0060), avatar (xep_0084), nickname (xep_0172) and bookmarks
(xep_0048 over xep_0049) plugins. Each INTEREST is a node whose notifications the client asks
for with `<node>+notify` in its capabilities before it sends presence.

Ops, besides im_driver's: publish (node, payload XML, optional item id, jid and publish "options" as
field: value), retract (node, item, optional jid), items (node, optional jid, ids, max), subscribe and
unsubscribe (jid, node), create (jid, optional node and "config" as field: value), configure_get,
configure_set (jid, node, config), delete_node, nodes (disco items, optional node), nick (XEP-0172),
avatar (XEP-0084: data and metadata), vcard_photo_set and vcard_photo_get (XEP-0153: a vCard-temp PHOTO, the
image as text), presence_photo (presence with the client's own vcard-temp:x:update), bookmarks_set and bookmarks_get (XEP-0048 in private XML
storage, conferences as jid/name/autojoin/nick), interest (adds a +notify and sends presence
again), raw_iq (sends "xml", returns the answer's XML).
Unsolicited: pubsub_event with from and the <event/> XML, for publish, retract, delete and purge.
"""
import base64
import os
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import im_driver  # noqa: E402
from im_driver import IQ_TIMEOUT, emit  # noqa: E402
from slixmpp import JID  # noqa: E402
from slixmpp.plugins.xep_0004 import Form  # noqa: E402

NS_EVENT = '{http://jabber.org/protocol/pubsub#event}event'


def form_of(fields, form_type):
    if not fields:
        return None
    form = Form()
    form['type'] = 'submit'
    form.add_field(var='FORM_TYPE', ftype='hidden', value=form_type)
    for name, value in fields.items():
        form.add_field(var=name, value=value)
    return form


class PepDriver(im_driver.Driver):
    def __init__(self, jid, password, ca_file, mechanism, interests):
        super().__init__(jid, password, ca_file, mechanism)
        for plugin in ('xep_0004', 'xep_0115', 'xep_0163', 'xep_0060', 'xep_0084', 'xep_0172', 'xep_0049', 'xep_0048'):
            self.client.register_plugin(plugin)
        self.client['xep_0048'].storage_method = 'xep_0049'
        self.client['xep_0048'].auto_join = False
        for node in interests:
            self.client['xep_0030'].add_feature(node + '+notify')
        for kind in ('publish', 'retract', 'delete', 'purge'):
            self.client.add_event_handler('pubsub_' + kind, lambda msg, kind=kind: self.on_pubsub(kind, msg))

    def on_pubsub(self, kind, msg):
        event = msg.xml.find(NS_EVENT)
        emit('pubsub_event', kind=kind, **{'from': str(msg['from']), 'to': str(msg['to']),
                                           'xml': ET.tostring(event, encoding='unicode') if event is not None else ''})

    def service(self, command):
        return JID(command['jid']) if command.get('jid') else None

    async def op_publish(self, command):
        options = form_of(command.get('options'), 'http://jabber.org/protocol/pubsub#publish-options')
        iq = await self.client['xep_0060'].publish(self.service(command), command['node'], id=command.get('item'),
                                                   payload=ET.fromstring(command['payload']), options=options, timeout=IQ_TIMEOUT)
        return {'item_id': iq['pubsub']['publish']['item']['id']}

    async def op_retract(self, command):
        await self.client['xep_0060'].retract(self.service(command), command['node'], command['item'], notify=command.get('notify'), timeout=IQ_TIMEOUT)

    async def op_items(self, command):
        iq = await self.client['xep_0060'].get_items(self.service(command), command['node'], item_ids=command.get('ids'),
                                                     max_items=command.get('max'), timeout=IQ_TIMEOUT)
        return {'items': [{'id': item['id'], 'xml': ET.tostring(item.xml, encoding='unicode')} for item in iq['pubsub']['items']]}

    async def op_subscribe(self, command):
        if 'node' not in command:
            return await super().op_subscribe(command)
        iq = await self.client['xep_0060'].subscribe(JID(command['jid']), command['node'], timeout=IQ_TIMEOUT)
        return {'subscription': iq['pubsub']['subscription']['subscription']}

    async def op_unsubscribe(self, command):
        if 'node' not in command:
            return await super().op_unsubscribe(command)
        await self.client['xep_0060'].unsubscribe(JID(command['jid']), command['node'], timeout=IQ_TIMEOUT)

    async def op_create(self, command):
        config = form_of(command.get('config'), 'http://jabber.org/protocol/pubsub#node_config')
        iq = await self.client['xep_0060'].create_node(JID(command['jid']), command.get('node'), config=config, timeout=IQ_TIMEOUT)
        return {'node': iq['pubsub']['create']['node'] or command.get('node')}

    async def op_configure_get(self, command):
        iq = await self.client['xep_0060'].get_node_config(self.service(command), command['node'], timeout=IQ_TIMEOUT)
        form = iq['pubsub_owner']['configure']['form']
        return {'config': {name: value for name, value in form.get_values().items()}}

    async def op_configure_set(self, command):
        form = form_of(command['config'], 'http://jabber.org/protocol/pubsub#node_config')
        await self.client['xep_0060'].set_node_config(self.service(command), command['node'], form, timeout=IQ_TIMEOUT)

    async def op_delete_node(self, command):
        await self.client['xep_0060'].delete_node(JID(command['jid']), command['node'], timeout=IQ_TIMEOUT)

    async def op_nodes(self, command):
        return await self.op_disco_items(command)

    async def op_nick(self, command):
        await self.client['xep_0172'].publish_nick(command['nick'], timeout=IQ_TIMEOUT)

    async def op_avatar(self, command):
        data = command['data'].encode()
        avatar_id = self.client['xep_0084'].generate_id(data)
        await self.client['xep_0084'].publish_avatar(data, timeout=IQ_TIMEOUT)
        await self.client['xep_0084'].publish_avatar_metadata([{'id': avatar_id, 'type': 'image/png', 'bytes': len(data)}], timeout=IQ_TIMEOUT)
        return {'avatar_id': avatar_id}

    async def op_vcard_photo_set(self, command):
        # XEP-0153 section 3.1: a legacy client's avatar, the whole vCard replaced (XEP-0054 section 3.2)
        vcard = self.client['xep_0054'].make_vcard()
        vcard['FN'] = command.get('fn', '')
        if 'photo' in command:
            vcard['PHOTO']['TYPE'] = command.get('type', 'image/png')
            vcard['PHOTO']['BINVAL'] = command['photo'].encode()
        await self.client['xep_0054'].publish_vcard(vcard, timeout=IQ_TIMEOUT)

    async def op_vcard_photo_get(self, command):
        iq = await self.client['xep_0054'].get_vcard(JID(command['jid']), local=False, cached=False, timeout=IQ_TIMEOUT)
        vcard = iq['vcard_temp']
        photo = vcard.xml.find('{vcard-temp}PHOTO')
        if photo is None:
            return {'fn': vcard['FN'], 'photo': None}
        return {'fn': vcard['FN'], 'type': photo.findtext('{vcard-temp}TYPE', ''),
                'photo': base64.b64decode(photo.findtext('{vcard-temp}BINVAL', '')).decode('latin-1')}

    async def op_presence_photo(self, command):
        # an available presence carrying the client's own vcard-temp:x:update (XEP-0153 section 3.2)
        presence = self.client.make_presence(pto=command.get('to'))
        update = ET.SubElement(presence.xml, '{vcard-temp:x:update}x')
        if 'photo' in command:
            ET.SubElement(update, '{vcard-temp:x:update}photo').text = command['photo'] or None
        presence.send()

    async def op_bookmarks_set(self, command):
        from slixmpp.plugins.xep_0048.stanza import Bookmarks
        bookmarks = Bookmarks()
        for conference in command['conferences']:
            bookmarks.add_conference(conference['jid'], conference.get('nick', ''), name=conference.get('name', ''),
                                     autojoin=conference.get('autojoin', False))
        await self.client['xep_0048'].set_bookmarks(bookmarks, timeout=IQ_TIMEOUT)

    async def op_bookmarks_get(self, _command):
        iq = await self.client['xep_0048'].get_bookmarks(timeout=IQ_TIMEOUT)
        return {'conferences': sorted([{'jid': str(conference['jid']), 'name': conference['name'], 'nick': conference['nick'],
                                        'autojoin': bool(conference['autojoin'])} for conference in iq['private']['bookmarks']['conferences']],
                                      key=lambda conference: conference['jid'])}

    async def op_interest(self, command):
        self.client['xep_0030'].add_feature(command['node'] + '+notify')
        await self.client['xep_0115'].update_caps(broadcast=True)

    async def op_raw_iq(self, command):
        iq = self.client.Iq(xml=ET.fromstring(command['xml']))
        answer = await iq.send(timeout=IQ_TIMEOUT)
        return {'xml': str(answer)}


def main():
    jid, password, host, port, ca_file = sys.argv[1:6]
    interests = sys.argv[6:]
    im_driver.logging.basicConfig(level=im_driver.logging.DEBUG if os.environ.get('IM_DRIVER_DEBUG') else im_driver.logging.ERROR)
    driver = PepDriver(jid, password, ca_file, 'SCRAM-SHA-256-PLUS', interests)
    loop = driver.client.loop
    im_driver.threading.Thread(target=im_driver.read_commands, args=(driver, loop), daemon=True).start()
    driver.address = (host, int(port))
    driver.client.connect(driver.address)
    loop.run_forever()


if __name__ == '__main__':
    main()
