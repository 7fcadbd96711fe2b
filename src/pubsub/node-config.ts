/**
 * A node's configuration (XEP-0060 section 8.2, fields of section 16.4.4): the defaults, the
 * configuration form, a submitted form applied, and publish options checked against a node
 * (section 7.1.5, XEP-0223).
 */
import type { Element } from '../xml/element.ts';
import { formBoolean, renderForm, type FormField } from '../muc/data-form.ts';
import { pubsubError } from './errors.ts';
import { FORM_NODE_CONFIG } from './xmlns.ts';

export type AccessModel = 'open' | 'presence' | 'whitelist';
export type SendLast = 'never' | 'on_sub' | 'on_sub_and_presence';
export type PublishModel = 'publishers' | 'open';

export interface NodeConfig {
  title: string;
  access_model: AccessModel;
  publish_model: PublishModel;
  persist_items: boolean;
  max_items: number;
  send_last_published_item: SendLast;
  deliver_payloads: boolean;
  notify_retract: boolean;
  notify_delete: boolean;
}

/**
 * The defaults of a new node. Personal eventing (XEP-0163 section 4.4 and 5): presence access,
 * the last item kept and sent when a contact comes online. A PubSub service: open access, the
 * last ten items kept and the last sent on subscribing.
 */
export function defaultConfig(kind: 'pep' | 'service'): NodeConfig {
  return {
    title: '',
    access_model: kind === 'pep' ? 'presence' : 'open',
    publish_model: 'publishers',
    persist_items: true,
    max_items: kind === 'pep' ? 1 : 10,
    send_last_published_item: kind === 'pep' ? 'on_sub_and_presence' : 'on_sub',
    deliver_payloads: true,
    notify_retract: true,
    notify_delete: true,
  };
}

type Key = keyof NodeConfig;

interface FieldSpec {
  key: Key;
  type: FormField['type'];
  label: string;
  /** a list field's values, each with the text a client shows for it */
  options?: Readonly<Record<string, string>>;
}

const ACCESS_MODEL_LABELS: Record<AccessModel, string> = { open: 'Anyone', presence: "Contacts subscribed to the owner's presence", whitelist: 'Only those the owner allows' };
const PUBLISH_MODEL_LABELS: Record<PublishModel, string> = { publishers: 'The owner and publishers', open: 'Anyone' };
const SEND_LAST_LABELS: Record<SendLast, string> = { never: 'Never', on_sub: 'When someone subscribes', on_sub_and_presence: 'When someone subscribes, and when a subscriber comes online' };

const FIELDS: Record<string, FieldSpec> = {
  'pubsub#title': { key: 'title', type: 'text-single', label: 'A friendly name for the node' },
  'pubsub#access_model': { key: 'access_model', type: 'list-single', label: 'Who may subscribe and retrieve items', options: ACCESS_MODEL_LABELS },
  'pubsub#publish_model': { key: 'publish_model', type: 'list-single', label: 'Who may publish', options: PUBLISH_MODEL_LABELS },
  'pubsub#persist_items': { key: 'persist_items', type: 'boolean', label: 'Keep items in storage' },
  'pubsub#max_items': { key: 'max_items', type: 'text-single', label: 'Most items to keep ("max": as many as the server allows)' },
  'pubsub#send_last_published_item': { key: 'send_last_published_item', type: 'list-single', label: 'When to send the last published item', options: SEND_LAST_LABELS },
  'pubsub#deliver_payloads': { key: 'deliver_payloads', type: 'boolean', label: 'Deliver payloads with event notifications' },
  'pubsub#notify_retract': { key: 'notify_retract', type: 'boolean', label: 'Notify subscribers when items are removed' },
  'pubsub#notify_delete': { key: 'notify_delete', type: 'boolean', label: 'Notify subscribers when the node is deleted' },
};

/** Section 8.2: the configuration form of a node, with its current values. */
export function configForm(config: NodeConfig, type: 'form' | 'result' = 'form'): Element {
  const fields: FormField[] = Object.entries(FIELDS).map(([name, spec]) => ({
    var: name,
    type: spec.type,
    label: spec.label,
    values: [render(config[spec.key])],
    ...(spec.options ? { options: Object.entries(spec.options).map(([value, label]) => ({ value, label })) } : {}),
  }));
  return renderForm(type, FORM_NODE_CONFIG, fields);
}

/**
 * Section 8.2.4: a submitted configuration applied to `config`. A field this server does not
 * know, or a value it does not accept, is not-acceptable and nothing changes.
 */
export function applyConfig(config: NodeConfig, values: ReadonlyMap<string, readonly string[]>, maxItems: number): NodeConfig {
  const next = { ...config } as Record<Key, unknown>;
  for (const [name, value] of values) {
    if (name === 'FORM_TYPE') continue;
    const spec = FIELDS[name];
    if (spec === undefined) throw pubsubError('not-acceptable', 'unsupported', `the field ${name} is not supported`);
    next[spec.key] = parseValue(name, spec, value, maxItems);
  }
  return next as unknown as NodeConfig;
}

/**
 * Section 7.1.5 (and XEP-0223): publish options are preconditions. Every field must be one
 * this server supports with the value the node has; otherwise conflict with
 * precondition-not-met, and nothing is published.
 */
export function checkPublishOptions(config: NodeConfig, values: ReadonlyMap<string, readonly string[]>, maxItems: number): void {
  for (const [name, value] of values) {
    if (name === 'FORM_TYPE') continue;
    const spec = FIELDS[name];
    const wanted = spec === undefined ? undefined : tryParse(name, spec, value, maxItems);
    if (wanted === undefined || wanted !== config[spec!.key]) {
      throw pubsubError('conflict', 'precondition-not-met', `the node's ${name} is not ${JSON.stringify(value.join(' '))}`);
    }
  }
}

function tryParse(name: string, spec: FieldSpec, value: readonly string[], maxItems: number): unknown {
  try {
    return parseValue(name, spec, value, maxItems);
  } catch {
    return undefined;
  }
}

function parseValue(name: string, spec: FieldSpec, value: readonly string[], maxItems: number): unknown {
  const text = value[0] ?? '';
  if (spec.type === 'boolean') {
    const parsed = formBoolean(value);
    if (parsed === undefined || !['0', '1', 'true', 'false'].includes(text)) throw badValue(name, text);
    return parsed;
  }
  if (spec.key === 'max_items') {
    // XEP-0060 section 16.4.4 (config-node-max): "max" is the most the service allows.
    if (text === 'max') return maxItems;
    if (!/^[0-9]{1,9}$/.test(text) || Number(text) < 1) throw badValue(name, text);
    if (Number(text) > maxItems) throw pubsubError('not-acceptable', undefined, `this server keeps at most ${maxItems} items per node`);
    return Number(text);
  }
  if (spec.options !== undefined) {
    const choices = Object.keys(spec.options);
    if (!choices.includes(text)) throw pubsubError('not-acceptable', 'unsupported', `${name} may be ${choices.join(', ')}; not ${JSON.stringify(text)}`);
    return text;
  }
  return text;
}

function badValue(name: string, text: string): Error {
  return pubsubError('not-acceptable', undefined, `${JSON.stringify(text)} is not a valid ${name}`);
}

function render(value: unknown): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}
