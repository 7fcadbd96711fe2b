import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { applyConfig, checkPublishOptions, configForm, defaultConfig } from './node-config.ts';

const values = (entries: Record<string, string>) => new Map(Object.entries(entries).map(([key, value]) => [key, [value]]));
const appCondition = (error: unknown) => (error instanceof StanzaError ? `${error.condition}/${error.appCondition?.name ?? ''}` : String(error));

test('PEP nodes default to presence access, one item, the last sent on presence; service nodes to open access and ten items', () => {
  assert.deepEqual(
    [defaultConfig('pep').access_model, defaultConfig('pep').max_items, defaultConfig('pep').send_last_published_item],
    ['presence', 1, 'on_sub_and_presence'],
  );
  assert.deepEqual([defaultConfig('service').access_model, defaultConfig('service').max_items, defaultConfig('service').send_last_published_item], ['open', 10, 'on_sub']);
});

test('a submitted configuration: "max" is the server maximum, booleans as 1/0 or true/false, FORM_TYPE ignored', () => {
  const config = applyConfig(defaultConfig('pep'), values({ FORM_TYPE: 'http://jabber.org/protocol/pubsub#node_config', 'pubsub#max_items': 'max', 'pubsub#access_model': 'open', 'pubsub#persist_items': 'false', 'pubsub#title': 'Keys' }), 250);
  assert.deepEqual([config.max_items, config.access_model, config.persist_items, config.title], [250, 'open', false, 'Keys']);
});

test('a configuration the server cannot keep is not-acceptable, and nothing changes', () => {
  const before = defaultConfig('pep');
  for (const [field, value] of [['pubsub#access_model', 'roster'], ['pubsub#max_items', '251'], ['pubsub#max_items', '0'], ['pubsub#max_items', 'many'], ['pubsub#persist_items', 'yes'], ['pubsub#collection', 'x']]) {
    assert.throws(() => applyConfig(before, values({ [field!]: value! }), 250), (error) => error instanceof StanzaError && error.condition === 'not-acceptable', `${field}=${value}`);
  }
  assert.deepEqual(before, defaultConfig('pep'));
});

test('publish options must match the node (XEP-0060 section 7.1.5): conflict with precondition-not-met otherwise', () => {
  const config = applyConfig(defaultConfig('pep'), values({ 'pubsub#access_model': 'open', 'pubsub#max_items': 'max' }), 1000);
  checkPublishOptions(config, values({ 'pubsub#access_model': 'open', 'pubsub#max_items': 'max' }), 1000);
  checkPublishOptions(config, values({ 'pubsub#max_items': '1000', 'pubsub#persist_items': '1' }), 1000);
  const mismatches: Record<string, string>[] = [{ 'pubsub#access_model': 'presence' }, { 'pubsub#max_items': '5' }, { 'pubsub#persist_items': 'false' }, { 'pubsub#unknown': 'x' }, { 'pubsub#max_items': 'lots' }];
  for (const mismatch of mismatches) {
    assert.throws(() => checkPublishOptions(config, values(mismatch), 1000), (error) => appCondition(error) === 'conflict/precondition-not-met', JSON.stringify(mismatch));
  }
});

test('the configuration form carries FORM_TYPE and every field with its current value', () => {
  const form = configForm(applyConfig(defaultConfig('service'), values({ 'pubsub#title': 'News' }), 10));
  const fields = new Map(form.getChildren('field').map((field) => [field.attrs.var, field.getChildText('value')]));
  assert.equal(fields.get('FORM_TYPE'), 'http://jabber.org/protocol/pubsub#node_config');
  assert.equal(fields.get('pubsub#title'), 'News');
  assert.equal(fields.get('pubsub#access_model'), 'open');
  assert.equal(fields.get('pubsub#persist_items'), '1');
  assert.equal(fields.get('pubsub#max_items'), '10');
});

test('the configuration form labels every choice of its lists (XEP-0004 section 3.3)', () => {
  const xml = serialize(configForm(defaultConfig('pep')));
  assert.match(xml, /<option label="Anyone"><value>open<\/value><\/option><option label="Contacts subscribed to the owner&apos;s presence"><value>presence<\/value><\/option>/);
  assert.match(xml, /<option label="Never"><value>never<\/value><\/option>/);
  assert.doesNotMatch(xml, /<option>/, 'no option without a label');
});
