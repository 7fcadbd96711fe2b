"""Logs in with slixmpp (Debian python3-slixmpp), pings the server and reports what happened.

Usage: slixmpp_login.py JID PASSWORD HOST PORT CA_FILE MECHANISM
Prints one JSON line: {"ok": bool, "jid": bound full JID, "error": text}.
"""
import asyncio
import json
import logging
import sys

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout


def main():
    jid, password, host, port, ca_file, mechanism = sys.argv[1:7]
    logging.basicConfig(level=logging.ERROR)
    client = ClientXMPP(jid, password, sasl_mech=mechanism)
    client.ca_certs = ca_file
    client.register_plugin('xep_0199')
    result = {'ok': False}

    async def on_session_start(_event):
        try:
            await client['xep_0199'].send_ping(client.boundjid.domain, timeout=5)
            result.update(ok=True, jid=str(client.boundjid))
        except (IqError, IqTimeout) as error:
            result.update(error='ping failed: %s' % error)
        client.disconnect()

    def on_failed_auth(_event):
        result.update(error='authentication failed')
        client.disconnect()

    client.add_event_handler('session_start', on_session_start)
    client.add_event_handler('failed_auth', on_failed_auth)
    client.add_event_handler('disconnected', lambda _event: client.loop.stop())
    client.connect((host, int(port)))
    client.loop.call_later(20, client.loop.stop)
    client.loop.run_forever()
    print(json.dumps(result))
    sys.exit(0 if result['ok'] else 1)


if __name__ == '__main__':
    main()
