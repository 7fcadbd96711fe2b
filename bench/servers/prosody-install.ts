/** Installs Debian's Prosody when it is missing (root only), its system service kept from starting. */
import { ensureDebianPackage } from './debian-package.ts';

export async function ensureProsodyInstalled(): Promise<void> {
  await ensureDebianPackage('prosody', ['prosody', 'prosodyctl']);
}
