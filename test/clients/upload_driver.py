"""im_driver.py with HTTP File Upload (XEP-0363, slixmpp's xep_0363 plugin, which PUTs with aiohttp).

Usage: upload_driver.py JID PASSWORD HOST PORT CA_FILE, with SSL_CERT_FILE naming the CA the HTTPS
listener's certificate is verified with. Besides im_driver's ops:
- find_upload: the upload service (disco#items of the domain, then disco#info), with the
  max-file-size of its XEP-0128 form; the plugin's upload_file then uses it;
- upload: the plugin's whole flow for the file at "path" (slot request, PUT), returning the GET URL;
- request_slot: only the slot request, for "service", "filename", "size" and "content_type",
  returning the put and get URLs, or "error" (condition, type, text) and the max-file-size of a
  file-too-large error.
"""
from pathlib import Path

from slixmpp import JID
from slixmpp.exceptions import IqError

from im_driver import IQ_TIMEOUT, Driver, main

NS_UPLOAD = 'urn:xmpp:http:upload:0'


class UploadDriver(Driver):
    def __init__(self, *args):
        super().__init__(*args)
        self.client.register_plugin('xep_0363')

    async def op_find_upload(self, _command):
        # COMPAT(slixmpp 1.8): its find_upload_service hands coroutines to asyncio.wait, which
        # Python 3.11 refuses; the same discovery (XEP-0363 section 3) is done here instead.
        disco = self.client['xep_0030']
        items = await disco.get_items(jid=self.client.boundjid.domain, timeout=IQ_TIMEOUT)
        for item in items['disco_items']['items']:
            info = await disco.get_info(jid=item[0], timeout=IQ_TIMEOUT)
            if NS_UPLOAD not in info['disco_info']['features']:
                continue
            max_size = None
            for form in info['disco_info'].iterables:
                values = form['values']
                if values.get('FORM_TYPE') == [NS_UPLOAD]:
                    max_size = int(values['max-file-size'])
            # What the plugin's upload_file would have found itself.
            self.client['xep_0363'].upload_service = info['from']
            self.client['xep_0363'].max_file_size = max_size
            return {'service': str(info['from']), 'max_file_size': max_size}
        return {'service': None}

    async def op_upload(self, command):
        url = await self.client['xep_0363'].upload_file(Path(command['path']), content_type=command.get('content_type'), timeout=IQ_TIMEOUT)
        return {'url': url}

    async def op_request_slot(self, command):
        try:
            iq = await self.client['xep_0363'].request_slot(JID(command['service']), command['filename'], command['size'], command.get('content_type'), timeout=IQ_TIMEOUT)
        except IqError as error:
            too_large = error.iq.xml.find('{%s}error/{%s}file-too-large/{%s}max-file-size' % ('jabber:client', NS_UPLOAD, NS_UPLOAD))
            return {'error': {'condition': error.condition, 'type': error.etype, 'text': error.text},
                    'max_file_size': int(too_large.text) if too_large is not None else None}
        slot = iq['http_upload_slot']
        return {'put': slot['put']['url'], 'get': slot['get']['url']}


if __name__ == '__main__':
    main(UploadDriver)
