/**
 * User Avatar to vCard-Based Avatars Conversion (XEP-0398): an account's XEP-0084 avatar in PEP
 * and the PHOTO of its vCard-temp are kept in step, whichever a client sets, and the server puts
 * the avatar's hash in the account's available presence (XEP-0153 section 3.2) on the client's
 * behalf. Both directions are bounded by the existing limits: the image a vCard carries is
 * published as one PEP item (at most `pep.max_item_bytes`), and what PEP gives the vCard is such
 * an item.
 */
import type { Jid } from '../../jid/jid.ts';
import type { OutboundStanzaEvent } from '../../router/host.ts';
import { el, type Element } from '../../xml/element.ts';
import { parseElement } from '../../xml/parse-element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { KeyedLock } from '../../pubsub/keyed-lock.ts';
import { NS_PUBSUB } from '../../pubsub/xmlns.ts';
import type { ModuleContext } from '../context.ts';
import { loadVcard, NS_VCARD, saveVcard } from '../vcard/vcard.ts';
import { AvatarHashes } from './avatar-hashes.ts';
import {
  dataPayload,
  imageOfDataItem,
  metadataPayload,
  NS_AVATAR_DATA,
  NS_AVATAR_METADATA,
  NS_VCARD_UPDATE,
  photoOf,
  storedInfoOf,
  vcardWithPhoto,
  type AvatarImage,
} from './avatar-formats.ts';
import type { PepServiceOf } from './pep.ts';

/** XEP-0398 section 2. */
export const FEATURE_PEP_VCARD_CONVERSION = 'urn:xmpp:pep-vcard-conversion:0';
/** Accounts whose avatar hash is remembered for their presence; the least recently used go first. */
const MAX_REMEMBERED_HASHES = 50_000;
/** Before presence delivery and broadcast, which take the stanza. */
const AVATAR_PRESENCE_PRIORITY = 20;

/**
 * Wraps the vCard and the account's pubsub set handlers; returns the features to advertise on the
 * account (none without vCard-temp).
 */
export function serveAvatarConversion({ host, storage, logger }: ModuleContext, serviceOf: PepServiceOf): string[] {
  const setVcard = host.iqHandler('account', 'set', NS_VCARD, 'vCard');
  const pubsubSet = host.iqHandler('account', 'set', NS_PUBSUB, 'pubsub');
  if (!setVcard || !pubsubSet) return [];
  // One change to an account's vCard at a time, so both directions read what the other wrote.
  const vcards = new KeyedLock();
  const hashes = new AvatarHashes(MAX_REMEMBERED_HASHES, async (account) => photoOf(await loadVcard(storage, account))?.hash ?? null);

  // Section 3.2: a vCard with a photo publishes it to urn:xmpp:avatar:data, then urn:xmpp:avatar:metadata.
  host.handleIq('account', 'set', NS_VCARD, 'vCard', (request) =>
    vcards.run(request.to.toString(), async () => {
      const account = request.to;
      const image = photoOf(request.payload);
      const service = serviceOf(account);
      const current = await currentAvatarId(service, account);
      if (image && image.hash !== current) await publishImage(service, account, image);
      const result = await setVcard(request);
      // A vCard without a photo means no avatar (XEP-0153 section 3.1): PEP stops publishing one too.
      if (image ? image.hash !== current : current !== undefined) await publishMetadata(service, account, image);
      hashes.set(account, image?.hash ?? null);
      return result;
    }),
  );

  // Section 3.1: metadata the owner publishes puts the image it describes into the vCard.
  host.handleIq('account', 'set', NS_PUBSUB, 'pubsub', async (request) => {
    const result = await pubsubSet(request);
    const publish = request.payload.getChild('publish', NS_PUBSUB);
    const metadata = publish?.attrs.node === NS_AVATAR_METADATA ? publish.getChild('item', NS_PUBSUB)?.getChild('metadata', NS_AVATAR_METADATA) : undefined;
    if (metadata) {
      await vcards.run(request.to.toString(), () => photoToVcard(request.to, metadata)).catch((error: unknown) => {
        // The publication stands: the vCard is a copy, and the next publication tries again.
        logger.warn('avatar conversion: the vCard could not take the published avatar', { account: request.to.toString(), error: String(error) });
      });
    }
    return result;
  });

  async function photoToVcard(account: Jid, metadata: Element): Promise<void> {
    const info = storedInfoOf(metadata);
    // Only URLs: no bytes this server holds to put into the vCard.
    if (info === undefined) return;
    let image: AvatarImage | undefined;
    if (info !== null) {
      const stored = await storage.pubsub.item(account.toString(), NS_AVATAR_DATA, info.id);
      image = stored && imageOfDataItem(parseElement(stored.xml), info.id, info.type);
      if (!image) {
        logger.info('avatar conversion: no data item hashes to the published metadata', { account: account.toString(), id: info.id });
        return;
      }
    }
    const vcard = (await loadVcard(storage, account)) ?? el('vCard', NS_VCARD);
    const unchanged = image ? photoOf(vcard)?.hash === image.hash : vcard.getChild('PHOTO') === undefined;
    if (unchanged) return;
    await saveVcard(storage, account, vcardWithPhoto(vcard, image));
    hashes.set(account, image?.hash ?? null);
  }

  // Section 4: the hash goes into every available presence the account's clients send, broadcast or directed (rooms too).
  host.events.on('pre-presence', async ({ stanza, session }: OutboundStanzaEvent) => {
    if (stanza.attrs.type !== undefined) return false;
    const update = stanza.getChild('x', NS_VCARD_UPDATE);
    // A <photo/> the client put there stays: empty says it has no avatar, or it knows its own hash.
    if (update?.getChild('photo', NS_VCARD_UPDATE)) return false;
    const hash = await hashes.get(session.jid.bare());
    const photo = el('photo', NS_VCARD_UPDATE);
    if (hash !== null) photo.t(hash);
    if (update) update.append(photo);
    else stanza.append(el('x', NS_VCARD_UPDATE, {}, photo));
    return false;
  }, AVATAR_PRESENCE_PRIORITY);

  return [FEATURE_PEP_VCARD_CONVERSION];
}

type Service = ReturnType<PepServiceOf>;

/** The id of the image the account's metadata names now, if any. */
async function currentAvatarId(service: Service, account: Jid): Promise<string | undefined> {
  const [last] = await service.options.store.items(account.toString(), NS_AVATAR_METADATA, 1);
  if (!last) return undefined;
  const info = storedInfoOf(parseElement(last.xml).getChild('metadata', NS_AVATAR_METADATA) ?? el('metadata', NS_AVATAR_METADATA));
  return info ? info.id : undefined;
}

/** The image as a data item under its hash; a photo larger than a PEP item may be is refused with the key that says so. */
async function publishImage(service: Service, account: Jid, image: AvatarImage): Promise<void> {
  const publish = el('publish', NS_PUBSUB, { node: NS_AVATAR_DATA }, el('item', NS_PUBSUB, { id: image.hash }, dataPayload(image)));
  await service.publish(account, publish, undefined).catch((error: unknown) => {
    if (error instanceof StanzaError && error.condition === 'not-acceptable') {
      throw new StanzaError('not-acceptable', `the PHOTO is larger than an avatar may be (pep.max_item_bytes: ${service.options.limits.maxItemBytes} bytes, encoded)`);
    }
    throw error;
  });
}

/** XEP-0084 section 4.2: the metadata item, its id the image's hash; empty metadata when there is no image. */
async function publishMetadata(service: Service, account: Jid, image: AvatarImage | undefined): Promise<void> {
  const item = el('item', NS_PUBSUB, image ? { id: image.hash } : {}, metadataPayload(image));
  await service.publish(account, el('publish', NS_PUBSUB, { node: NS_AVATAR_METADATA }, item), undefined);
}
