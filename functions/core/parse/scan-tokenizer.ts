import { Tokenizer } from 'htmlparser2';

/**
 * htmlparser2's Tokenizer (10.1.0, pinned), stepping over plain text, quoted attribute values, tag and attribute names
 * and the whitespace between attributes in one tight loop each.
 *
 * The tokenizer looks at every character through its state switch. In text and in a quoted attribute value only a
 * few characters do anything (`<` and `&` in text; the quote and `&` in a value), in a name only those that end it,
 * and between attributes only what is not whitespace; these states are where most of a page's characters are read,
 * so here they skip ahead to the next such character, as the tokenizer already does in comments and script text
 * (its `fastForwardTo`). Everything else, and what happens at those characters, is the tokenizer's own code: the
 * same events at the same indices. The overridden states are private in htmlparser2's types, hence the prototype
 * assignments.
 */
export class ScanTokenizer extends Tokenizer {}

const LT = 0x3c;
const AMP = 0x26;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;

const EQ = 0x3d;
const GT = 0x3e;
const SLASH = 0x2f;
/** The tokenizer's whitespace: space, newline, tab, form feed, carriage return. */
const isWhitespace = (c: number) => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0c || c === 0x0d;

/** The Tokenizer's fields and states used here. */
interface Internals {
  buffer: string;
  index: number;
  offset: number;
  stateText(c: number): void;
  stateInAttributeValueDoubleQuotes(c: number): void;
  stateInAttributeValueSingleQuotes(c: number): void;
  stateInTagName(c: number): void;
  stateInClosingTagName(c: number): void;
  stateBeforeAttributeName(c: number): void;
  stateInAttributeName(c: number): void;
}

/** The ASCII characters that end a run (1), for `skipToStop`; no other character does. */
function stops(...ends: number[]): Uint8Array {
  const table = new Uint8Array(128);
  for (const c of [0x20, 0x0a, 0x09, 0x0c, 0x0d, ...ends]) table[c] = 1;
  return table;
}
/** What ends a tag's name (the tokenizer's isEndOfTagSection), an end tag's name, and an attribute's name. */
const TAG_NAME_ENDS = stops(SLASH, GT);
const CLOSING_TAG_NAME_ENDS = stops(GT);
const ATTRIBUTE_NAME_ENDS = stops(EQ, SLASH, GT);

/**
 * Moves `index` to just before the next `a` or `b` in the buffer (or to its last character): the parse loop steps
 * onto it next, or stops at the end of the buffer, where it emits what it has read, as it would have.
 */
function skipUntil(tokenizer: Internals, a: number, b: number): void {
  const buffer = tokenizer.buffer;
  const end = buffer.length;
  let i = tokenizer.index - tokenizer.offset + 1;
  while (i < end) {
    const c = buffer.charCodeAt(i);
    if (c === a || c === b) break;
    i++;
  }
  tokenizer.index = tokenizer.offset + i - 1;
}

/** `skipUntil` for the next character in `ends` (whitespace and the table's others). */
function skipToStop(tokenizer: Internals, ends: Uint8Array): void {
  const buffer = tokenizer.buffer;
  const end = buffer.length;
  let i = tokenizer.index - tokenizer.offset + 1;
  while (i < end) {
    const c = buffer.charCodeAt(i);
    if (c < 128 && ends[c] === 1) break;
    i++;
  }
  tokenizer.index = tokenizer.offset + i - 1;
}

/** `skipUntil` for the next character that is not whitespace. */
function skipWhitespace(tokenizer: Internals): void {
  const buffer = tokenizer.buffer;
  const end = buffer.length;
  let i = tokenizer.index - tokenizer.offset + 1;
  while (i < end && isWhitespace(buffer.charCodeAt(i))) i++;
  tokenizer.index = tokenizer.offset + i - 1;
}

const proto = ScanTokenizer.prototype as unknown as Internals;
const { stateText, stateInAttributeValueDoubleQuotes, stateInAttributeValueSingleQuotes } = proto;
proto.stateText = function (this: Internals, c: number) {
  if (c === LT || c === AMP) stateText.call(this, c);
  else skipUntil(this, LT, AMP);
};
proto.stateInAttributeValueDoubleQuotes = function (this: Internals, c: number) {
  if (c === DOUBLE_QUOTE || c === AMP) stateInAttributeValueDoubleQuotes.call(this, c);
  else skipUntil(this, DOUBLE_QUOTE, AMP);
};
proto.stateInAttributeValueSingleQuotes = function (this: Internals, c: number) {
  if (c === SINGLE_QUOTE || c === AMP) stateInAttributeValueSingleQuotes.call(this, c);
  else skipUntil(this, SINGLE_QUOTE, AMP);
};
const { stateInTagName, stateInClosingTagName, stateBeforeAttributeName, stateInAttributeName } = proto;
proto.stateInTagName = function (this: Internals, c: number) {
  if (c < 128 && TAG_NAME_ENDS[c] === 1) stateInTagName.call(this, c);
  else skipToStop(this, TAG_NAME_ENDS);
};
proto.stateInClosingTagName = function (this: Internals, c: number) {
  if (c < 128 && CLOSING_TAG_NAME_ENDS[c] === 1) stateInClosingTagName.call(this, c);
  else skipToStop(this, CLOSING_TAG_NAME_ENDS);
};
proto.stateInAttributeName = function (this: Internals, c: number) {
  if (c < 128 && ATTRIBUTE_NAME_ENDS[c] === 1) stateInAttributeName.call(this, c);
  else skipToStop(this, ATTRIBUTE_NAME_ENDS);
};
proto.stateBeforeAttributeName = function (this: Internals, c: number) {
  if (isWhitespace(c)) skipWhitespace(this);
  else stateBeforeAttributeName.call(this, c);
};
