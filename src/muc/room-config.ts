/**
 * A room's configuration (XEP-0045 section 10.2) and its data form (section 15.5.3,
 * muc#roomconfig), with the disco features it shows (section 6.4).
 */
import { StanzaError } from '../xml/stanza-error.ts';
import { formBoolean, renderForm, type FormField } from './data-form.ts';
import type { Element } from '../xml/element.ts';
import { NS_MUC, NS_MUC_ROOMCONFIG } from './xmlns.ts';

/** Who may send private messages in the room (muc#roomconfig_allowpm). */
export const PM_POLICIES = ['anyone', 'participants', 'moderators', 'none'] as const;
export type PmPolicy = (typeof PM_POLICIES)[number];
const PM_POLICY_LABELS: Record<PmPolicy, string> = { anyone: 'Anyone', participants: 'Participants and moderators', moderators: 'Moderators only', none: 'Nobody' };

export interface RoomConfig {
  title: string;
  description: string;
  /** kept after the last occupant leaves, and across restarts */
  persistent: boolean;
  /** listed in the service's disco#items */
  public: boolean;
  membersOnly: boolean;
  /** occupants without an affiliation enter as visitors, who may not speak */
  moderated: boolean;
  /** empty: no password */
  password: string;
  /** "non": every occupant sees real JIDs; "semi": only moderators do (section 4.2) */
  anonymity: 'semi' | 'non';
  maxUsers: number;
  /** messages kept for newcomers */
  historyLength: number;
  /** participants, not only moderators, may change the subject */
  changeSubject: boolean;
  /** participants, not only moderators, may invite */
  allowInvites: boolean;
  allowPm: PmPolicy;
}

/** What the service lets rooms have: the config ceilings from muc.* settings. */
export interface RoomLimits {
  maxOccupants: number;
  maxHistory: number;
  maxAffiliations: number;
}

export function defaultRoomConfig(name: string, historyLength: number, limits: RoomLimits): RoomConfig {
  return {
    title: name,
    description: '',
    persistent: false,
    public: true,
    membersOnly: false,
    moderated: false,
    password: '',
    anonymity: 'semi',
    maxUsers: limits.maxOccupants,
    historyLength: Math.min(historyLength, limits.maxHistory),
    changeSubject: false,
    allowInvites: false,
    allowPm: 'anyone',
  };
}

const MAXUSERS_OPTIONS = ['10', '20', '30', '50', '100', '200', '500', '1000'];

/** Section 10.2: the configuration form an owner fills in. */
export function configForm(config: RoomConfig, limits: RoomLimits): Element {
  const bool = (value: boolean) => [value ? '1' : '0'];
  const fields: FormField[] = [
    { var: 'muc#roomconfig_roomname', type: 'text-single', label: 'Title', values: [config.title] },
    { var: 'muc#roomconfig_roomdesc', type: 'text-single', label: 'Description', values: [config.description] },
    { var: 'muc#roomconfig_persistentroom', type: 'boolean', label: 'Keep the room when the last occupant leaves', values: bool(config.persistent) },
    { var: 'muc#roomconfig_publicroom', type: 'boolean', label: 'List the room in the directory', values: bool(config.public) },
    { var: 'muc#roomconfig_membersonly', type: 'boolean', label: 'Only members may enter', values: bool(config.membersOnly) },
    { var: 'muc#roomconfig_moderatedroom', type: 'boolean', label: 'Only participants with voice may speak', values: bool(config.moderated) },
    { var: 'muc#roomconfig_passwordprotectedroom', type: 'boolean', label: 'A password is needed to enter', values: bool(config.password !== '') },
    { var: 'muc#roomconfig_roomsecret', type: 'text-private', label: 'Password', values: config.password === '' ? [] : [config.password] },
    {
      var: 'muc#roomconfig_whois',
      type: 'list-single',
      label: 'Who may see real JIDs',
      options: [
        { value: 'moderators', label: 'Moderators only' },
        { value: 'anyone', label: 'Anyone in the room' },
      ],
      values: [config.anonymity === 'non' ? 'anyone' : 'moderators'],
    },
    {
      var: 'muc#roomconfig_maxusers',
      type: 'list-single',
      label: `Most occupants (at most ${limits.maxOccupants})`,
      options: MAXUSERS_OPTIONS.filter((option) => Number(option) <= limits.maxOccupants).map((option) => ({ value: option, label: option })),
      values: [String(config.maxUsers)],
    },
    { var: 'muc#maxhistoryfetch', type: 'text-single', label: `Messages kept for newcomers (at most ${limits.maxHistory})`, values: [String(config.historyLength)] },
    { var: 'muc#roomconfig_changesubject', type: 'boolean', label: 'Participants may change the subject', values: bool(config.changeSubject) },
    { var: 'muc#roomconfig_allowinvites', type: 'boolean', label: 'Participants may invite others', values: bool(config.allowInvites) },
    { var: 'muc#roomconfig_allowpm', type: 'list-single', label: 'Who may send private messages', options: PM_POLICIES.map((value) => ({ value, label: PM_POLICY_LABELS[value] })), values: [config.allowPm] },
  ];
  return renderForm('form', NS_MUC_ROOMCONFIG, fields, 'Room configuration');
}

/**
 * Section 10.2: applies a submitted form to a copy of `config`. Fields left out keep their
 * value; a value out of range is not-acceptable (section 10.2, "not acceptable").
 */
export function applyConfigForm(config: RoomConfig, values: Map<string, string[]>, limits: RoomLimits): RoomConfig {
  const next = { ...config };
  const text = (name: string): string | undefined => values.get(name)?.join('\n');
  const flag = (name: string, set: (value: boolean) => void) => {
    const value = formBoolean(values.get(name));
    if (value !== undefined) set(value);
  };
  const count = (name: string, max: number, set: (value: number) => void) => {
    const raw = text(name);
    if (raw === undefined || raw === '') return;
    const value = raw === 'none' ? max : Number(raw);
    if (!Number.isInteger(value) || value < 0) throw new StanzaError('not-acceptable', `${name} must be a whole number`);
    if (value > max) throw new StanzaError('not-acceptable', `${name} may be at most ${max} on this service`);
    set(value);
  };
  next.title = text('muc#roomconfig_roomname') ?? next.title;
  next.description = text('muc#roomconfig_roomdesc') ?? next.description;
  flag('muc#roomconfig_persistentroom', (value) => (next.persistent = value));
  flag('muc#roomconfig_publicroom', (value) => (next.public = value));
  flag('muc#roomconfig_membersonly', (value) => (next.membersOnly = value));
  flag('muc#roomconfig_moderatedroom', (value) => (next.moderated = value));
  flag('muc#roomconfig_changesubject', (value) => (next.changeSubject = value));
  flag('muc#roomconfig_allowinvites', (value) => (next.allowInvites = value));
  const secret = text('muc#roomconfig_roomsecret');
  if (secret !== undefined) next.password = secret;
  if (formBoolean(values.get('muc#roomconfig_passwordprotectedroom')) === false) next.password = '';
  if (formBoolean(values.get('muc#roomconfig_passwordprotectedroom')) === true && next.password === '') {
    throw new StanzaError('not-acceptable', 'a password-protected room needs muc#roomconfig_roomsecret');
  }
  const whois = text('muc#roomconfig_whois');
  if (whois !== undefined) {
    if (whois !== 'anyone' && whois !== 'moderators') throw new StanzaError('not-acceptable', 'muc#roomconfig_whois is "moderators" or "anyone"');
    next.anonymity = whois === 'anyone' ? 'non' : 'semi';
  }
  count('muc#roomconfig_maxusers', limits.maxOccupants, (value) => (next.maxUsers = Math.max(value, 1)));
  count('muc#maxhistoryfetch', limits.maxHistory, (value) => (next.historyLength = value));
  count('muc#roomconfig_historylength', limits.maxHistory, (value) => (next.historyLength = value));
  const allowPm = text('muc#roomconfig_allowpm');
  if (allowPm !== undefined) {
    if (!(PM_POLICIES as readonly string[]).includes(allowPm)) throw new StanzaError('not-acceptable', `muc#roomconfig_allowpm is one of ${PM_POLICIES.join(', ')}`);
    next.allowPm = allowPm as PmPolicy;
  }
  return next;
}

/** Section 6.4: the features a room's disco#info shows for its configuration. */
export function configFeatures(config: RoomConfig): string[] {
  return [
    NS_MUC,
    config.public ? 'muc_public' : 'muc_hidden',
    config.persistent ? 'muc_persistent' : 'muc_temporary',
    config.membersOnly ? 'muc_membersonly' : 'muc_open',
    config.moderated ? 'muc_moderated' : 'muc_unmoderated',
    config.anonymity === 'non' ? 'muc_nonanonymous' : 'muc_semianonymous',
    config.password !== '' ? 'muc_passwordprotected' : 'muc_unsecured',
  ];
}

/** A stored configuration back, each field checked; fields missing take the defaults. */
export function parseStoredConfig(json: string, defaults: RoomConfig): RoomConfig {
  const stored = JSON.parse(json) as Partial<RoomConfig>;
  const config = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof RoomConfig)[]) {
    if (typeof stored[key] === typeof defaults[key]) (config as Record<string, unknown>)[key] = stored[key];
  }
  return config;
}
