/** The few parts of data forms (XEP-0004) that rooms use: rendering fields and reading a submission. */
import { el, type Element } from '../xml/element.ts';
import { NS_DATA } from './xmlns.ts';

/** A choice of a list field, with the text a client shows for it (XEP-0004 section 3.3). */
export interface FormOption {
  value: string;
  label: string;
}

export interface FormField {
  var: string;
  type?: 'boolean' | 'fixed' | 'hidden' | 'jid-multi' | 'jid-single' | 'list-multi' | 'list-single' | 'text-multi' | 'text-private' | 'text-single';
  label?: string;
  values: readonly string[];
  options?: readonly FormOption[];
  required?: boolean;
}

/** A form of `type` whose FORM_TYPE (XEP-0068) is `formType`. */
export function renderForm(type: 'form' | 'result' | 'submit', formType: string, fields: readonly FormField[], title?: string): Element {
  const x = el('x', NS_DATA, { type });
  if (title !== undefined) x.c('title').t(title);
  const all: FormField[] = [{ var: 'FORM_TYPE', type: 'hidden', values: [formType] }, ...fields];
  for (const field of all) {
    const element = x.c('field', { var: field.var, ...(field.type ? { type: field.type } : {}), ...(field.label ? { label: field.label } : {}) });
    if (field.required) element.c('required');
    for (const option of field.options ?? []) element.c('option', { label: option.label }).c('value').t(option.value);
    for (const value of field.values) element.c('value').t(value);
  }
  return x;
}

/** The first data form child of `parent`, if any. */
export function findForm(parent: Element): Element | undefined {
  return parent.getChild('x', NS_DATA);
}

/** The values of every field of a submitted form, by var. */
export function readForm(x: Element): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const field of x.getChildren('field')) {
    const name = field.attrs.var;
    if (name !== undefined) values.set(name, field.getChildren('value').map((value) => value.text()));
  }
  return values;
}

/** XEP-0004 section 3.3: a boolean is "1" or "true". */
export function formBoolean(values: readonly string[] | undefined): boolean | undefined {
  if (values === undefined || values.length === 0) return undefined;
  return values[0] === '1' || values[0] === 'true';
}
