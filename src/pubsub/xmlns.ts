/** Namespaces of publish-subscribe (XEP-0060 section 16.2) and the features it advertises. */
export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
export const NS_PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';
export const NS_PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner';
export const NS_PUBSUB_ERRORS = 'http://jabber.org/protocol/pubsub#errors';
/** FORM_TYPE of node configuration (XEP-0060 section 16.4.4) */
export const FORM_NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';
/** FORM_TYPE of publish options (XEP-0060 section 7.1.5) */
export const FORM_PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options';

/** XEP-0060 section 10: the features both kinds of service support, each `pubsub#<name>`. */
const COMMON_FEATURES = [
  'access-open',
  'access-presence',
  'access-whitelist',
  'config-node',
  'config-node-max',
  'create-and-configure',
  'create-nodes',
  'delete-items',
  'delete-nodes',
  'item-ids',
  'last-published',
  'manage-subscriptions',
  'modify-affiliations',
  'persistent-items',
  'publish',
  'publish-options',
  'purge-nodes',
  'retract-items',
  'retrieve-affiliations',
  'retrieve-default',
  'retrieve-items',
  'retrieve-subscriptions',
  'subscribe',
];

/** Personal eventing (XEP-0163 section 3): nodes made by publishing, notifications filtered by caps. */
export const PEP_FEATURES = [NS_PUBSUB, ...[...COMMON_FEATURES, 'auto-create', 'auto-subscribe', 'filtered-notifications', 'presence-notifications'].sort().map((name) => `${NS_PUBSUB}#${name}`)];

/** A PubSub service (XEP-0060): also instant nodes; nodes are made by publishing only when the publisher may create them. */
export const SERVICE_FEATURES = [NS_PUBSUB, ...[...COMMON_FEATURES, 'auto-create', 'instant-nodes'].sort().map((name) => `${NS_PUBSUB}#${name}`)];
