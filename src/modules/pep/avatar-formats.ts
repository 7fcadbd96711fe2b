/**
 * The two avatar formats XEP-0398 converts between, read and written without storage:
 * User Avatar (XEP-0084: an image in urn:xmpp:avatar:data, described in urn:xmpp:avatar:metadata)
 * and the vCard-temp PHOTO of vCard-Based Avatars (XEP-0153, XEP-0054). Both name an image by
 * the hex SHA-1 of its bytes (XEP-0084 section 4.2.1, XEP-0153 section 3.1).
 */
import { createHash } from 'node:crypto';
import { el, type Element } from '../../xml/element.ts';

export const NS_AVATAR_DATA = 'urn:xmpp:avatar:data';
export const NS_AVATAR_METADATA = 'urn:xmpp:avatar:metadata';
export const NS_VCARD_UPDATE = 'vcard-temp:x:update';
/** XEP-0084 section 4.2.1: the type a client should use when it says nothing else. */
const DEFAULT_TYPE = 'image/png';

export interface AvatarImage {
  /** the hex SHA-1 of the image's bytes */
  hash: string;
  /** its MIME type */
  type: string;
  bytes: Buffer;
}

export function avatarHash(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/** Base64 as RFC 4648 writes it; whitespace (vCards wrap BINVAL) is ignored, anything else is not base64. */
export function decodeBase64(text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
  return Buffer.from(compact, 'base64');
}

/** The vCard's PHOTO as an image: BINVAL that is base64 (an EXTVAL names no bytes to hash). */
export function photoOf(vcard: Element | undefined): AvatarImage | undefined {
  const photo = vcard?.getChild('PHOTO');
  const binval = photo?.getChildText('BINVAL');
  const bytes = binval === undefined ? undefined : decodeBase64(binval);
  if (!photo || !bytes) return undefined;
  return { hash: avatarHash(bytes), type: photo.getChildText('TYPE')?.trim() || DEFAULT_TYPE, bytes };
}

/** A copy of the vCard with its PHOTO replaced by `image`, or removed when there is none; the rest kept as it was. */
export function vcardWithPhoto(vcard: Element, image: AvatarImage | undefined): Element {
  const copy = vcard.clone();
  for (const photo of copy.getChildren('PHOTO')) copy.remove(photo);
  if (image) copy.append(el('PHOTO', copy.xmlns, {}, el('TYPE', copy.xmlns).t(image.type), el('BINVAL', copy.xmlns).t(image.bytes.toString('base64'))));
  return copy;
}

/**
 * XEP-0398 section 3.1: of the metadata's <info/> elements, the one that does not point to an
 * external URL; `null` for empty metadata (XEP-0084 section 4.2: the user stopped publishing an
 * avatar), undefined when every one is a URL.
 */
export function storedInfoOf(metadata: Element): { id: string; type: string } | null | undefined {
  const infos = metadata.getChildren('info', NS_AVATAR_METADATA);
  if (infos.length === 0) return null;
  const info = infos.find((candidate) => candidate.attrs.url === undefined && candidate.attrs.id);
  return info && { id: info.attrs.id!.toLowerCase(), type: info.attrs.type || DEFAULT_TYPE };
}

/** The image a data item carries, when its bytes hash to the id it was published under (XEP-0398 section 3.1: SHOULD verify). */
export function imageOfDataItem(item: Element, id: string, type: string): AvatarImage | undefined {
  const data = item.getChild('data', NS_AVATAR_DATA);
  const bytes = data === undefined ? undefined : decodeBase64(data.text());
  if (!bytes || avatarHash(bytes) !== id) return undefined;
  return { hash: id, type, bytes };
}

/** XEP-0084 section 4.1 and 4.2: the data item's payload and the metadata describing it. */
export function dataPayload(image: AvatarImage): Element {
  return el('data', NS_AVATAR_DATA).t(image.bytes.toString('base64'));
}

export function metadataPayload(image: AvatarImage | undefined): Element {
  const metadata = el('metadata', NS_AVATAR_METADATA);
  if (image) metadata.append(el('info', NS_AVATAR_METADATA, { bytes: String(image.bytes.length), id: image.hash, type: image.type }));
  return metadata;
}
