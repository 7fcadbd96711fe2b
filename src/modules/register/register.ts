/**
 * In-band registration (XEP-0077): account creation before authentication where the host
 * enables it (`registration.enabled`), and password change and account removal for
 * authenticated users.
 */
import type { FeatureModule } from '../context.ts';
import { enableAccountManagement } from './account-management.ts';
import { enableRegistration } from './registration.ts';

export const registerModule: FeatureModule = (context) => {
  enableRegistration(context);
  enableAccountManagement(context);
};
