/** Namespaces of group chat (XEP-0045 section 19.1) and of what rooms carry with them. */
export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const NS_MUC_UNIQUE = 'http://jabber.org/protocol/muc#unique';
export const NS_MUC_ROOMCONFIG = 'http://jabber.org/protocol/muc#roomconfig';
export const NS_MUC_ROOMINFO = 'http://jabber.org/protocol/muc#roominfo';
export const NS_MUC_REQUEST = 'http://jabber.org/protocol/muc#request';
export const NS_MUC_REGISTER = 'http://jabber.org/protocol/muc#register';
/** XEP-0410: the service answers a ping to the sender's own occupant JID itself */
export const NS_MUC_SELF_PING = 'http://jabber.org/protocol/muc#self-ping-optimization';
export const NS_DATA = 'jabber:x:data';
export const NS_DELAY = 'urn:xmpp:delay';
export const NS_REGISTER = 'jabber:iq:register';
/** XEP-0249 direct invitations, which rooms also add to mediated ones */
export const NS_CONFERENCE = 'jabber:x:conference';
export const NS_PING = 'urn:xmpp:ping';
/** XEP-0421: a stable, anonymous identifier of each occupant in what the room sends */
export const NS_OCCUPANT_ID = 'urn:xmpp:occupant-id:0';

/** Status codes of XEP-0045 section 15.6.2 that rooms send. */
export const STATUS = {
  nonAnonymous: '100',
  configChanged: '104',
  self: '110',
  nowNonAnonymous: '172',
  nowSemiAnonymous: '173',
  created: '201',
  nickAssigned: '210',
  banned: '301',
  nickChanged: '303',
  kicked: '307',
  affiliationRemoved: '321',
  membersOnlyRemoved: '322',
  shutdown: '332',
  technicalRemoval: '333',
} as const;
