/** The XML declaration a stream may start with (XML 1.0 section 2.8, RFC 6120 section 11.5). */

export interface DeclarationProblem {
  condition: 'not-well-formed' | 'restricted-xml';
  message: string;
}

const S = '[ \\t\\r\\n]';
const quoted = (pattern: string) => `(?:"(${pattern})"|'(${pattern})')`;
/** XMLDecl ::= '<?xml' VersionInfo EncodingDecl? SDDecl? S? '?>' (input starts after '<?'). */
const XML_DECLARATION = new RegExp(
  `^xml${S}+version${S}*=${S}*${quoted('1\\.[0-9]+')}` +
    `(?:${S}+encoding${S}*=${S}*${quoted('[A-Za-z][A-Za-z0-9._-]*')})?` +
    `(?:${S}+standalone${S}*=${S}*${quoted('yes|no')})?${S}*\\?>$`,
);
const TARGET = /^[^ \t\r\n?]*/;

/**
 * Checks a declaration (the text after '<?' through '?>'). Any other processing instruction is
 * restricted XML (RFC 6120 section 11.1). A declared encoding other than UTF-8 contradicts the
 * stream's encoding (RFC 6120 section 11.6) and is reported as not-well-formed.
 */
export function checkXmlDeclaration(text: string): DeclarationProblem | undefined {
  if (TARGET.exec(text)?.[0] !== 'xml') return { condition: 'restricted-xml', message: 'processing instructions are not allowed' };
  const match = XML_DECLARATION.exec(text);
  if (match === null) return { condition: 'not-well-formed', message: 'malformed XML declaration' };
  const encoding = match[3] ?? match[4];
  if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
    return { condition: 'not-well-formed', message: `encoding ${encoding} declared; XMPP streams are UTF-8` };
  }
  return undefined;
}
