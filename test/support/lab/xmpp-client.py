"""Logs several accounts in with slixmpp (Debian python3-slixmpp), sends messages between them
once every account is online, and waits until each message has arrived.

Usage: xmpp-client.py SPEC_JSON
SPEC_JSON: {"accounts": [{"jid", "password", "host", "port", "ca_file"}],
            "messages": [{"from", "to", "body"}], "timeout": seconds}
Prints one JSON line: {"ok": bool, "received": [{"from", "to", "body"}], "error": text}.
"""
import json
import logging
import sys

from slixmpp import ClientXMPP


def main():
    spec = json.loads(sys.argv[1])
    logging.basicConfig(level=logging.ERROR)
    result = {'ok': False, 'received': []}
    expected = {(m['from'], m['to'], m['body']) for m in spec['messages']}
    clients = {}
    online = set()

    def finish(error=None):
        if error:
            result['error'] = error
        for client in clients.values():
            client.disconnect()
        loop.call_later(1, loop.stop)

    def send_all():
        for message in spec['messages']:
            clients[message['from']].send_message(mto=message['to'], mbody=message['body'], mtype='chat')

    def on_session_start(jid):
        def handler(_event):
            # Initial presence (RFC 6121 section 4.2) makes the resource available for messages
            # sent to the bare JID.
            clients[jid].send_presence()
            online.add(jid)
            if len(online) == len(clients):
                send_all()
        return handler

    def on_message(jid):
        def handler(stanza):
            received = (stanza['from'].bare, jid, stanza['body'])
            result['received'].append(dict(zip(('from', 'to', 'body'), received)))
            expected.discard(received)
            if not expected:
                result['ok'] = True
                finish()
        return handler

    def on_failed_auth(jid):
        return lambda _event: finish('authentication failed for %s' % jid)

    loop = None
    for account in spec['accounts']:
        jid = account['jid']
        client = ClientXMPP(jid, account['password'])
        client.ca_certs = account['ca_file']
        client.add_event_handler('session_start', on_session_start(jid))
        client.add_event_handler('message', on_message(jid))
        client.add_event_handler('failed_auth', on_failed_auth(jid))
        clients[jid] = client
        loop = client.loop
    for account in spec['accounts']:
        clients[account['jid']].connect((account['host'], int(account['port'])))
    loop.call_later(spec['timeout'], lambda: finish('timed out; online: %s' % sorted(online)))
    loop.run_forever()
    print(json.dumps(result))
    sys.exit(0 if result['ok'] else 1)


if __name__ == '__main__':
    main()
