/**
 * PRECIS string classes (RFC 8264) and the username/password profiles of RFC 8265.
 *
 * Character categories are derived at run time from the Unicode property escapes of the
 * JavaScript regex engine, so they follow the Unicode version of the running ICU.
 */

export class PrecisError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrecisError';
  }
}

type StringClass = 'identifier' | 'freeform';

/** Derived property values of RFC 8264 section 8. */
type DerivedProperty = 'PVALID' | 'CONTEXTJ' | 'CONTEXTO' | 'DISALLOWED' | 'UNASSIGNED';

function describe(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

// RFC 8264 section 9.6 (Exceptions, F), taken over from RFC 5892 section 2.6.
const EXCEPTION_PVALID = new Set([0x00df, 0x03c2, 0x06fd, 0x06fe, 0x0f0b, 0x3007]);
const EXCEPTION_CONTEXTO = new Set([0x00b7, 0x0375, 0x05f3, 0x05f4, 0x30fb]);
const EXCEPTION_DISALLOWED = new Set([0x0640, 0x07fa, 0x302e, 0x302f, 0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x303b]);
const ARABIC_INDIC_DIGIT = /[\u0660-\u0669]/u;
const EXTENDED_ARABIC_INDIC_DIGIT = /[\u06f0-\u06f9]/u;

// RFC 8264 section 9.10 (Unassigned, J): General_Category Cn that is not a noncharacter.
const UNASSIGNED = /^(?!\p{Noncharacter_Code_Point})\p{Cn}$/u;
// RFC 8264 section 9.11 (ASCII7, K): printable ASCII other than space.
const ASCII7 = /^[\x21-\x7e]$/u;
// RFC 8264 section 9.8 (JoinControl, H).
const JOIN_CONTROL = /^\p{Join_Control}$/u;
// RFC 8264 section 9.9 (OldHangulJamo, I): Hangul_Syllable_Type L, V or T. The regex engine has
// no Hangul_Syllable_Type property, so these are the ranges the Unicode data assigns to them.
const OLD_HANGUL_JAMO = /^[\u1100-\u11ff\ua960-\ua97c\ud7b0-\ud7c6\ud7cb-\ud7fb]$/u;
// RFC 8264 section 9.13 (PrecisIgnorableProperties, M).
const IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u;
// RFC 8264 section 9.12 (Controls, L).
const CONTROLS = /^\p{Cc}$/u;
// RFC 8264 section 9.1 (LetterDigits, A).
const LETTER_DIGITS = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u;
// RFC 8264 section 9.18 (OtherLetterDigits, R).
const OTHER_LETTER_DIGITS = /^[\p{Lt}\p{Nl}\p{No}\p{Me}]$/u;
// RFC 8264 section 9.14 (Spaces, N).
const SPACES = /^\p{Zs}$/u;
// RFC 8264 section 9.15 (Symbols, O).
const SYMBOLS = /^[\p{Sm}\p{Sc}\p{Sk}\p{So}]$/u;
// RFC 8264 section 9.16 (Punctuation, P).
const PUNCTUATION = /^\p{P}$/u;

/** RFC 8264 section 9.17 (HasCompat, Q): the code point changes under NFKC. */
function hasCompat(ch: string): boolean {
  return ch.normalize('NFKC') !== ch;
}

/**
 * The derivation algorithm of RFC 8264 section 8, in its order. Categories that are
 * ID_DIS / FREE_PVAL resolve according to the string class.
 */
function deriveProperty(ch: string, cp: number, stringClass: StringClass): DerivedProperty {
  if (EXCEPTION_PVALID.has(cp)) return 'PVALID';
  if (EXCEPTION_CONTEXTO.has(cp) || ARABIC_INDIC_DIGIT.test(ch) || EXTENDED_ARABIC_INDIC_DIGIT.test(ch)) return 'CONTEXTO';
  if (EXCEPTION_DISALLOWED.has(cp)) return 'DISALLOWED';
  // BackwardCompatible (G, section 9.7) is empty.
  if (UNASSIGNED.test(ch)) return 'UNASSIGNED';
  if (ASCII7.test(ch)) return 'PVALID';
  if (JOIN_CONTROL.test(ch)) return 'CONTEXTJ';
  if (OLD_HANGUL_JAMO.test(ch)) return 'DISALLOWED';
  if (IGNORABLE.test(ch)) return 'DISALLOWED';
  if (CONTROLS.test(ch)) return 'DISALLOWED';
  const freeformOnly = stringClass === 'freeform' ? 'PVALID' : 'DISALLOWED';
  if (hasCompat(ch)) return freeformOnly;
  if (LETTER_DIGITS.test(ch)) return 'PVALID';
  if (OTHER_LETTER_DIGITS.test(ch) || SPACES.test(ch) || SYMBOLS.test(ch) || PUNCTUATION.test(ch)) {
    return freeformOnly;
  }
  return 'DISALLOWED';
}

/**
 * Canonical_Combining_Class is not exposed to regexes. Canonical reordering (UAX #15) puts
 * marks in ascending class order, so a mark has class 9 (Virama) exactly when it moves before
 * a class-10 mark and after a class-8 mark.
 */
function isVirama(ch: string): boolean {
  const sheva = '\u05b0'; // ccc 10
  const kanaVoicingMark = '\u3099'; // ccc 8
  const reorders = (first: string, second: string) => ('a' + first + second).normalize('NFD') === 'a' + second + first;
  return /^\p{M}$/u.test(ch) && reorders(sheva, ch) && reorders(ch, kanaVoicingMark);
}

// Joining_Type is not exposed to regexes either: transparent (T) is approximated by marks and
// format characters, and dual/left/right joining by letters of the cursive joining scripts.
const JOINING_TRANSPARENT = /^[\p{Mn}\p{Me}\p{Cf}]$/u;
const JOINING_LETTER =
  /^[\p{L}--[\P{sc=Arabic}&&\P{sc=Syriac}&&\P{sc=Nko}&&\P{sc=Mongolian}&&\P{sc=Mandaic}&&\P{sc=Manichaean}&&\P{sc=Psalter_Pahlavi}&&\P{sc=Phags_Pa}&&\P{sc=Adlam}&&\P{sc=Hanifi_Rohingya}&&\P{sc=Sogdian}&&\P{sc=Old_Uyghur}&&\P{sc=Chorasmian}]]$/v;

function joiningNeighbour(chars: string[], from: number, direction: 1 | -1): boolean {
  for (let i = from; i >= 0 && i < chars.length; i += direction) {
    if (JOINING_TRANSPARENT.test(chars[i]!)) continue;
    return JOINING_LETTER.test(chars[i]!);
  }
  return false;
}

/** Contextual rules of RFC 5892 appendix A, referenced by RFC 8264 section 9.6 and 9.8. */
function contextAllows(chars: string[], index: number): boolean {
  const ch = chars[index]!;
  const before = chars[index - 1];
  const after = chars[index + 1];
  switch (ch) {
    case '\u200c': // ZERO WIDTH NON-JOINER, appendix A.1
      if (before !== undefined && isVirama(before)) return true;
      return joiningNeighbour(chars, index - 1, -1) && joiningNeighbour(chars, index + 1, 1);
    case '\u200d': // ZERO WIDTH JOINER, appendix A.2
      return before !== undefined && isVirama(before);
    case '\u00b7': // MIDDLE DOT, appendix A.3
      return before === 'l' && after === 'l';
    case '\u0375': // GREEK LOWER NUMERAL SIGN, appendix A.4
      return after !== undefined && /^\p{sc=Greek}$/u.test(after);
    case '\u05f3': // HEBREW PUNCTUATION GERESH, appendix A.5
    case '\u05f4': // HEBREW PUNCTUATION GERSHAYIM, appendix A.6
      return before !== undefined && /^\p{sc=Hebrew}$/u.test(before);
    case '\u30fb': // KATAKANA MIDDLE DOT, appendix A.7
      return chars.some((c) => c !== '\u30fb' && /^[\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Han}]$/u.test(c));
  }
  if (ARABIC_INDIC_DIGIT.test(ch)) return !chars.some((c) => EXTENDED_ARABIC_INDIC_DIGIT.test(c)); // A.8
  if (EXTENDED_ARABIC_INDIC_DIGIT.test(ch)) return !chars.some((c) => ARABIC_INDIC_DIGIT.test(c)); // A.9
  return false;
}

/** Checks every code point against a string class (RFC 8264 sections 4.2 and 4.3). */
function enforceClass(s: string, stringClass: StringClass): void {
  const chars = [...s];
  chars.forEach((ch, index) => {
    const cp = ch.codePointAt(0)!;
    const property = deriveProperty(ch, cp, stringClass);
    if (property === 'PVALID') return;
    if ((property === 'CONTEXTJ' || property === 'CONTEXTO') && contextAllows(chars, index)) return;
    const reason =
      property === 'UNASSIGNED' ? 'is unassigned'
      : property === 'DISALLOWED' ? `is not allowed in the ${stringClass === 'identifier' ? 'IdentifierClass' : 'FreeformClass'}`
      : 'is not allowed in this context';
    throw new PrecisError(`code point ${describe(cp)} at position ${index} ${reason}`);
  });
}

/**
 * Width mapping rule (RFC 8264 section 5.2.1, RFC 8265 section 3.3.1 step 1): fullwidth and
 * halfwidth code points are mapped to their decomposition. Those are the Halfwidth and
 * Fullwidth Forms block and the ideographic space, whose NFKC form is exactly that mapping.
 */
function mapWidth(s: string): string {
  return s.replace(/[\u3000\uff01-\uffee]/gu, (ch) => ch.normalize('NFKC'));
}

/** Bidi_Class values that the Bidi Rule (RFC 5893 section 2) distinguishes. */
type BidiClass = 'L' | 'R' | 'AN' | 'EN' | 'NSM' | 'OTHER';

// Bidi_Class is not exposed to regexes. Characters valid in the IdentifierClass are letters,
// digits, marks and ASCII, so the classes are derived from the blocks that DerivedBidiClass.txt
// gives a right-to-left default, plus general categories.
const RIGHT_TO_LEFT_BLOCKS = /^[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]$/u;
const ARABIC_NUMBER = /^[\u0600-\u0605\u0660-\u0669\u066b\u066c\u06dd\u0890\u0891\u08e2\u{10d30}-\u{10d39}\u{10e60}-\u{10e7e}]$/u;
const EUROPEAN_NUMBER = /^[0-9\u06f0-\u06f9]$/u;
const NON_SPACING_MARK = /^[\p{Mn}\p{Me}]$/u;
const LEFT_TO_RIGHT = /^[\p{L}\p{Mc}\p{Nd}\p{Nl}\p{No}]$/u;

function bidiClass(ch: string): BidiClass {
  if (EUROPEAN_NUMBER.test(ch)) return 'EN';
  if (ARABIC_NUMBER.test(ch)) return 'AN';
  if (NON_SPACING_MARK.test(ch)) return 'NSM';
  if (RIGHT_TO_LEFT_BLOCKS.test(ch)) return 'R';
  if (LEFT_TO_RIGHT.test(ch)) return 'L';
  return 'OTHER';
}

/**
 * Directionality rule (RFC 8265 section 3.3.1 step 6 / 3.4.1 step 6): strings containing
 * right-to-left characters must satisfy the Bidi Rule of RFC 5893 section 2 for RTL labels.
 */
function enforceBidiRule(s: string): void {
  const classes = [...s].map(bidiClass);
  if (!classes.some((c) => c === 'R' || c === 'AN')) return;
  if (classes[0] !== 'R') throw new PrecisError('a right-to-left string must start with a right-to-left character (RFC 5893 rule 1)');
  if (classes.includes('L')) throw new PrecisError('a right-to-left string must not contain left-to-right characters (RFC 5893 rule 2)');
  const last = classes.findLast((c) => c !== 'NSM');
  if (last !== 'R' && last !== 'EN' && last !== 'AN') {
    throw new PrecisError('a right-to-left string must end with a right-to-left character or a number (RFC 5893 rule 3)');
  }
  if (classes.includes('EN') && classes.includes('AN')) {
    throw new PrecisError('a right-to-left string must not mix European and Arabic digits (RFC 5893 rule 4)');
  }
}

function requireNonEmpty(s: string): void {
  if (s.length === 0) throw new PrecisError('the string is empty');
}

/**
 * UsernameCaseMapped profile (RFC 8265 section 3.3): width mapping, case mapping (Unicode
 * default case mapping to lowercase, as String.prototype.toLowerCase implements it), NFC,
 * then the IdentifierClass, non-emptiness and the directionality rule are enforced.
 */
export function prepareUsernameCaseMapped(s: string): string {
  const prepared = mapWidth(s).toLowerCase().normalize('NFC');
  requireNonEmpty(prepared);
  enforceClass(prepared, 'identifier');
  enforceBidiRule(prepared);
  return prepared;
}

const NON_ASCII_SPACE = /[\p{Zs}--[\x20]]/gv;

/**
 * OpaqueString profile (RFC 8265 section 4.2): non-ASCII spaces map to U+0020, NFC, then the
 * FreeformClass and non-emptiness are enforced. No width or case mapping.
 */
export function prepareOpaqueString(s: string): string {
  const prepared = s.replace(NON_ASCII_SPACE, ' ').normalize('NFC');
  requireNonEmpty(prepared);
  enforceClass(prepared, 'freeform');
  return prepared;
}
