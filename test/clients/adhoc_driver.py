"""A scripted slixmpp client running the server's administration commands (XEP-0133) with
slixmpp's ad-hoc commands workflow (XEP-0050: start_command, then complete_command with the
filled form, as a client's command dialog does).

Usage and protocol as test/clients/im_driver.py, whose ops it keeps, plus:
commands (the server's command list: node and name of each), admin (runs the command named
"command", such as add-user, filling the form it gets with "fields" as var: value or list of
values; returns the final status, the notes as [type, text] and the result form's values, or the
error's condition and text) and command (runs the one-step command at "node").
"""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import im_driver  # noqa: E402
from im_driver import IQ_TIMEOUT, Driver  # noqa: E402
from slixmpp import JID  # noqa: E402


class AdhocDriver(Driver):
    def __init__(self, *args):
        super().__init__(*args)
        for plugin in ('xep_0004', 'xep_0050', 'xep_0133'):
            self.client.register_plugin(plugin)

    def server(self):
        return JID(self.client.boundjid.domain)

    async def op_commands(self, _command):
        iq = await self.client['xep_0133'].get_commands(jid=self.server(), timeout=IQ_TIMEOUT)
        return {'commands': [{'node': item[1], 'name': item[2]} for item in iq['disco_items']['items']]}

    async def op_admin(self, command):
        done = self.client.loop.create_future()
        fields = command.get('fields', {})
        adhoc = self.client['xep_0050']

        def on_next(iq, session):
            form = iq['command']['form']
            if iq['command']['status'] == 'executing':
                # The form's stage: keep its hidden fields, fill in the others, and complete.
                answer = self.client['xep_0004'].make_form(ftype='submit')
                for var, field in form.get_fields().items():
                    if field['type'] == 'hidden':
                        answer.add_field(var=var, ftype='hidden', value=field['value'])
                for var, value in fields.items():
                    answer.add_field(var=var, value=value)
                session['payload'] = answer
                adhoc.complete_command(session)
                return
            done.set_result({'status': iq['command']['status'], 'notes': [list(note) for note in iq['command']['notes']],
                             'values': form.get_values() if form.get_fields() else {}})

        def on_error(iq, session):
            done.set_result({'error': iq['error']['condition'], 'text': iq['error']['text']})
            adhoc.terminate_command(session)

        start = getattr(self.client['xep_0133'], command['command'].replace('-', '_'))
        start(jid=self.server(), session={'next': on_next, 'error': on_error})
        return await asyncio.wait_for(done, IQ_TIMEOUT)

    async def op_command(self, command):
        """Runs the one-step command at "node" as a client's command menu does; returns its status and
        result values, or the error's condition and text."""
        done = self.client.loop.create_future()
        adhoc = self.client['xep_0050']

        def on_next(iq, _session):
            form = iq['command']['form']
            done.set_result({'status': iq['command']['status'], 'values': form.get_values() if form.get_fields() else {}})

        def on_error(iq, session):
            done.set_result({'error': iq['error']['condition'], 'text': iq['error']['text']})
            adhoc.terminate_command(session)

        adhoc.start_command(self.server(), command['node'], {'next': on_next, 'error': on_error})
        return await asyncio.wait_for(done, IQ_TIMEOUT)


if __name__ == '__main__':
    im_driver.main(AdhocDriver)
