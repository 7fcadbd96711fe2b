"""
An external component (XEP-0114) written with slixmpp's ComponentXMPP, driven by JSON lines as
test/clients/im_driver.py is: commands on stdin, events on stdout.

    component_driver.py DOMAIN SECRET HOST PORT

It answers messages with a body by "echo: BODY" from the address they were sent to, answers
disco#info and software version (XEP-0092) queries, accepts pubsub publishes as the app server
of push notifications (XEP-0357) does, and reports what it receives. Events: session_start,
login_failed (with the stream error's condition), message, presence, pubsub (with the IQ's XML),
disconnected.
Commands: message (to, body, from: any address, also a forged one), disconnect.
"""
import asyncio
import json
import logging
import os
import sys
import threading

from slixmpp import ComponentXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath


def emit(event, **fields):
    sys.stdout.write(json.dumps({'event': event, **fields}) + '\n')
    sys.stdout.flush()


class Driver:
    def __init__(self, domain, secret, host, port):
        self.domain = domain
        self.started = False
        self.client = ComponentXMPP(domain, secret, host, port)
        self.client.register_plugin('xep_0030')
        self.client.register_plugin('xep_0092', {'software_name': 'trellis-test-component', 'version': '1.0'})
        self.client['xep_0030'].add_identity(category='gateway', itype='test', name='Test component', jid=domain)
        self.client.add_event_handler('session_start', self.on_session_start)
        self.client.add_event_handler('stream_error', self.on_stream_error)
        self.client.add_event_handler('message', self.on_message)
        self.client.add_event_handler('presence', self.on_presence)
        self.client.add_event_handler('disconnected', self.on_disconnected)
        # An app server of push notifications (XEP-0357): every pubsub publish is reported and accepted.
        self.client.register_handler(Callback('pubsub publish', MatchXPath('{%s}iq/{http://jabber.org/protocol/pubsub}pubsub' % self.client.default_ns), self.on_pubsub))

    def on_session_start(self, _event):
        self.started = True
        emit('session_start', jid=self.domain)

    def on_stream_error(self, error):
        condition = error['condition']
        emit('stream_error', condition=condition, text=error['text'])
        if not self.started:
            emit('login_failed', condition=condition, text=error['text'])

    def on_message(self, msg):
        fields = {'from': str(msg['from']), 'to': str(msg['to']), 'type': msg['type'], 'body': msg['body']}
        if msg['type'] == 'error':
            fields['condition'] = msg['error']['condition']
            emit('message_error', **fields)
            return
        emit('message', **fields)
        if msg['body']:
            reply = msg.reply('echo: ' + msg['body'])
            reply.send()

    def on_pubsub(self, iq):
        emit('pubsub', **{'from': str(iq['from']), 'to': str(iq['to']), 'type': iq['type'], 'xml': str(iq)})
        if iq['type'] == 'set':
            iq.reply().send()

    def on_presence(self, presence):
        emit('presence', **{'from': str(presence['from']), 'to': str(presence['to']), 'type': presence['type']})

    def on_disconnected(self, _event):
        emit('disconnected')
        if not self.started:
            emit('login_failed', condition='disconnected', text='')
        self.client.loop.stop()

    async def run(self, command):
        op = command.get('op')
        try:
            if op == 'message':
                message = self.client.make_message(mto=command['to'], mbody=command.get('body'), mtype=command.get('type', 'chat'), mfrom=command['from'])
                message.send()
            elif op == 'disconnect':
                self.client.disconnect()
            else:
                raise ValueError('unknown op %r' % op)
            emit('result', id=command.get('id'), ok=True)
        except Exception as exception:
            emit('result', id=command.get('id'), ok=False, error={'condition': 'internal', 'type': '', 'text': str(exception)})


def read_commands(driver, loop):
    for line in sys.stdin:
        line = line.strip()
        if line:
            asyncio.run_coroutine_threadsafe(driver.run(json.loads(line)), loop)
    asyncio.run_coroutine_threadsafe(driver.run({'op': 'disconnect'}), loop)


def main():
    domain, secret, host, port = sys.argv[1:5]
    logging.basicConfig(level=logging.DEBUG if os.environ.get('IM_DRIVER_DEBUG') else logging.ERROR)
    driver = Driver(domain, secret, host, int(port))
    loop = driver.client.loop
    threading.Thread(target=read_commands, args=(driver, loop), daemon=True).start()
    driver.client.connect()
    loop.run_forever()


if __name__ == '__main__':
    main()
