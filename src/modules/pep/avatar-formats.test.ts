import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseElement } from '../../xml/parse-element.ts';
import { serialize } from '../../xml/serialize.ts';
import { avatarHash, decodeBase64, imageOfDataItem, metadataPayload, photoOf, storedInfoOf, vcardWithPhoto } from './avatar-formats.ts';
import { AvatarHashes } from './avatar-hashes.ts';
import { parseJid } from '../../jid/jid.ts';

const ROSE = Buffer.from('PNG-bytes-of-a-rose');
const ROSE_HASH = avatarHash(ROSE);

test('base64 with the line breaks vCards wrap BINVAL in is read; anything else is no image', () => {
  assert.deepEqual(decodeBase64('UE5HLWJ5dGVz\n LW9mLWEtcm9zZQ=='), ROSE);
  assert.equal(decodeBase64('not base64!'), undefined);
  assert.equal(decodeBase64('abc'), undefined);
  assert.equal(decodeBase64('   '), undefined);
});

test('a vCard PHOTO is an image with its hash and type; an EXTVAL is none', () => {
  const vcard = parseElement(`<vCard xmlns='vcard-temp'><FN>Juliet</FN><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>${ROSE.toString('base64')}</BINVAL></PHOTO></vCard>`);
  assert.deepEqual(photoOf(vcard), { hash: ROSE_HASH, type: 'image/jpeg', bytes: ROSE });
  assert.equal(photoOf(parseElement("<vCard xmlns='vcard-temp'><PHOTO><EXTVAL>https://example.com/a.png</EXTVAL></PHOTO></vCard>")), undefined);
  assert.equal(photoOf(undefined), undefined);
});

test('replacing the PHOTO keeps the rest of the vCard, and removing it leaves no PHOTO', () => {
  const vcard = parseElement("<vCard xmlns='vcard-temp'><FN>Juliet</FN><PHOTO><EXTVAL>https://example.com/a.png</EXTVAL></PHOTO><NICKNAME>Jules</NICKNAME></vCard>");
  const replaced = vcardWithPhoto(vcard, { hash: ROSE_HASH, type: 'image/png', bytes: ROSE });
  assert.equal(serialize(replaced), `<vCard xmlns="vcard-temp"><FN>Juliet</FN><NICKNAME>Jules</NICKNAME><PHOTO><TYPE>image/png</TYPE><BINVAL>${ROSE.toString('base64')}</BINVAL></PHOTO></vCard>`);
  assert.equal(serialize(vcardWithPhoto(replaced, undefined)), '<vCard xmlns="vcard-temp"><FN>Juliet</FN><NICKNAME>Jules</NICKNAME></vCard>');
  // The original is not changed.
  assert.ok(vcard.getChild('PHOTO'));
});

test('metadata: the info without a URL is taken, empty metadata is no avatar, only URLs are nothing to convert', () => {
  const meta = (infos: string) => parseElement(`<metadata xmlns='urn:xmpp:avatar:metadata'>${infos}</metadata>`);
  assert.deepEqual(storedInfoOf(meta(`<info id='aa' url='https://example.com/a' bytes='1' type='image/gif'/><info id='BB' bytes='2' type='image/webp'/>`)), { id: 'bb', type: 'image/webp' });
  assert.equal(storedInfoOf(meta('')), null);
  assert.equal(storedInfoOf(meta(`<info id='aa' url='https://example.com/a' bytes='1'/>`)), undefined);
  assert.equal(serialize(metadataPayload(undefined)), '<metadata xmlns="urn:xmpp:avatar:metadata"/>');
});

test('a data item is an image only when its bytes hash to the id it was published under', () => {
  const item = parseElement(`<item xmlns='http://jabber.org/protocol/pubsub'><data xmlns='urn:xmpp:avatar:data'>${ROSE.toString('base64')}</data></item>`);
  assert.equal(imageOfDataItem(item, ROSE_HASH, 'image/png')?.hash, ROSE_HASH);
  assert.equal(imageOfDataItem(item, avatarHash(Buffer.from('other')), 'image/png'), undefined);
});

test('the remembered hashes are bounded: the least recently used account is read again', async () => {
  const reads: string[] = [];
  const hashes = new AvatarHashes(2, async (account) => {
    reads.push(account.toString());
    return account.local === 'juliet' ? ROSE_HASH : null;
  });
  const [juliet, romeo, nurse] = ['juliet', 'romeo', 'nurse'].map((user) => parseJid(`${user}@localhost`));
  assert.equal(await hashes.get(juliet!), ROSE_HASH);
  assert.equal(await hashes.get(romeo!), null);
  assert.equal(await hashes.get(juliet!), ROSE_HASH);
  await hashes.get(nurse!);
  assert.equal(hashes.size, 2);
  await hashes.get(juliet!);
  await hashes.get(romeo!);
  assert.deepEqual(reads, ['juliet@localhost', 'romeo@localhost', 'nurse@localhost', 'romeo@localhost']);
  // A change made while storage was read wins over what was read.
  const racing = new AvatarHashes(2, async () => ROSE_HASH);
  const pending = racing.get(juliet!);
  racing.set(juliet!, null);
  assert.equal(await pending, null);
});
