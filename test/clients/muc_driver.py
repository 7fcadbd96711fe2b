"""A scripted slixmpp client with group chat (slixmpp's XEP-0045 plugin) for the MUC tests.

Usage and protocol as test/clients/im_driver.py, whose ops it keeps, plus: join, leave,
groupchat, subject, pm, configure (instant room without fields), get_config, set_affiliation,
get_affiliations, set_role, invite, destroy, moderate (XEP-0425 through slixmpp's plugin: room, stanza_id,
reason).
Extra events: subject (from, subject), muc_presence (presence from a room: from, type, codes, affiliation, role, jid,
destroy, condition, occupant_id), invite (a mediated invitation: room, from, reason), groupchat_ids
(a group-chat message's from, body, the room's stanza ID and the occupant ID) and moderated (a
retraction announced by a room: from, id, by, reason).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import im_driver  # noqa: E402
from im_driver import IQ_TIMEOUT, Driver, emit  # noqa: E402
from slixmpp import JID  # noqa: E402
from slixmpp.exceptions import PresenceError  # noqa: E402

NS_MUC_USER = 'http://jabber.org/protocol/muc#user'
base_error_of = im_driver.error_of


def error_of(exception):
    if isinstance(exception, PresenceError):
        error = exception.presence['error']
        return {'condition': error['condition'], 'type': error['type'], 'text': error['text']}
    return base_error_of(exception)


im_driver.error_of = error_of


def muc_fields(presence):
    """The muc#user details of a presence from a room."""
    x = presence.xml.find('{%s}x' % NS_MUC_USER)
    fields = {'codes': [], 'affiliation': '', 'role': '', 'jid': '', 'destroy': None}
    if x is None:
        return fields
    fields['codes'] = sorted(status.get('code') for status in x.findall('{%s}status' % NS_MUC_USER))
    item = x.find('{%s}item' % NS_MUC_USER)
    if item is not None:
        fields.update(affiliation=item.get('affiliation', ''), role=item.get('role', ''), jid=item.get('jid', ''))
    destroy = x.find('{%s}destroy' % NS_MUC_USER)
    if destroy is not None:
        fields['destroy'] = {'jid': destroy.get('jid', ''), 'reason': destroy.findtext('{%s}reason' % NS_MUC_USER) or ''}
    return fields


class MucDriver(Driver):
    def __init__(self, *args):
        super().__init__(*args)
        for plugin in ('xep_0004', 'xep_0045', 'xep_0249', 'xep_0421', 'xep_0424', 'xep_0425'):
            self.client.register_plugin(plugin)
        self.client.add_event_handler('groupchat_message', self.on_groupchat_ids)
        self.client.add_event_handler('moderated_message', self.on_moderated)
        self.client.add_event_handler('groupchat_presence', self.on_muc_presence)
        self.client.add_event_handler('groupchat_invite', self.on_invite)
        self.client.add_event_handler('groupchat_subject', lambda message: emit('subject', **{'from': str(message['from']), 'subject': message['subject']}))

    def on_muc_presence(self, presence):
        fields = {'from': str(presence['from']), 'type': presence['type'] if presence['type'] in ('unavailable', 'error') else 'available'}
        fields.update(muc_fields(presence))
        if presence['type'] == 'error':
            fields['condition'] = presence['error']['condition']
        fields['occupant_id'] = presence['occupant-id'].xml.get('id')
        emit('muc_presence', **fields)

    def on_groupchat_ids(self, message):
        room = message['from'].bare
        stanza_ids = [element.get('id') for element in message.xml.findall('{urn:xmpp:sid:0}stanza-id') if element.get('by') == room]
        emit('groupchat_ids', **{'from': str(message['from']), 'body': message['body'],
                                 'stanza_id': stanza_ids[0] if stanza_ids else None, 'occupant_id': message['occupant-id'].xml.get('id')})

    def on_moderated(self, message):
        moderated = message['apply_to']['moderated']
        emit('moderated', **{'from': str(message['from']), 'id': message['apply_to']['id'], 'by': str(moderated['by']), 'reason': moderated['reason']})

    def on_invite(self, message):
        invite = message['muc']['invite']
        emit('invite', room=str(message['from']), **{'from': str(invite['from'])}, reason=invite['reason'])

    def muc(self):
        return self.client['xep_0045']

    async def op_join(self, command):
        history = {'maxstanzas': command['maxstanzas']} if 'maxstanzas' in command else {'maxchars': 0}
        presence, subject, occupants, history_messages = await self.muc().join_muc_wait(
            JID(command['room']), command['nick'], password=command.get('password'), timeout=IQ_TIMEOUT, **history)
        return {'self': muc_fields(presence), 'subject': subject['subject'],
                'occupants': sorted(str(occupant['from'].resource) for occupant in occupants),
                'history': [message['body'] for message in history_messages]}

    async def op_leave(self, command):
        self.muc().leave_muc(JID(command['room']), command['nick'], command.get('status', ''))

    async def op_groupchat(self, command):
        self.client.send_message(mto=JID(command['room']), mbody=command['body'], mtype='groupchat')

    async def op_subject(self, command):
        self.muc().set_subject(JID(command['room']), command['subject'])

    async def op_pm(self, command):
        self.client.send_message(mto=JID('%s/%s' % (command['room'], command['nick'])), mbody=command['body'], mtype='chat')

    async def op_configure(self, command):
        """Submits the room's configuration form with the given fields changed (none: an instant room)."""
        form = self.client['xep_0004'].make_form(ftype='submit')
        form.add_field(var='FORM_TYPE', ftype='hidden', value='http://jabber.org/protocol/muc#roomconfig')
        for var, value in command.get('fields', {}).items():
            form.add_field(var=var, value=value)
        await self.muc().set_room_config(JID(command['room']), form, timeout=IQ_TIMEOUT)

    async def op_get_config(self, command):
        form = await self.muc().get_room_config(JID(command['room']), timeout=IQ_TIMEOUT)
        return {'fields': form.get_values()}

    async def op_set_affiliation(self, command):
        await self.muc().set_affiliation(JID(command['room']), command['affiliation'], jid=JID(command['jid']),
                                         reason=command.get('reason', ''), timeout=IQ_TIMEOUT)

    async def op_get_affiliations(self, command):
        jids = await self.muc().get_affiliation_list(JID(command['room']), command['affiliation'], timeout=IQ_TIMEOUT)
        return {'jids': sorted(str(jid) for jid in jids)}

    async def op_set_role(self, command):
        await self.muc().set_role(JID(command['room']), command['nick'], command['role'], reason=command.get('reason', ''), timeout=IQ_TIMEOUT)

    async def op_invite(self, command):
        self.muc().invite(JID(command['room']), JID(command['jid']), command.get('reason', ''))

    async def op_moderate(self, command):
        await self.client['xep_0425'].moderate(JID(command['room']), command['stanza_id'], command.get('reason', ''), timeout=IQ_TIMEOUT)

    async def op_destroy(self, command):
        altroom = JID(command['altroom']) if command.get('altroom') else None
        await self.muc().destroy(JID(command['room']), command.get('reason', ''), altroom=altroom, timeout=IQ_TIMEOUT)


im_driver.Driver = MucDriver

if __name__ == '__main__':
    im_driver.main()
