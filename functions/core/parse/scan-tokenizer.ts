import { Tokenizer } from 'htmlparser2';

/**
 * htmlparser2's Tokenizer (10.1.0, pinned), stepping over plain text, quoted attribute values, tag and attribute names
 * and the whitespace between attributes in one step or one tight loop each.
 *
 * The tokenizer looks at every character through its state switch. In text and in a quoted attribute value only a
 * few characters do anything (`<` and `&` in text; the quote and `&` in a value), in a name only those that end it,
 * and between attributes only what is not whitespace; these states are where most of a page's characters are read,
 * so here they skip ahead to the next such character, as the tokenizer already does in comments and script text
 * (its `fastForwardTo`). Text and values skip with the string's own search (`indexOf`, several times faster than a
 * loop over the characters), and so does `fastForwardTo` here. Everything else, and what happens at those
 * characters, is the tokenizer's own code: the same events at the same indices. The overridden states are private in
 * htmlparser2's types, hence the prototype assignments.
 */
export class ScanTokenizer extends Tokenizer {
  /**
   * Where in the buffer the next `<`, `&`, `"` and `'` are, as last found (NextChar), each looked for again only once
   * the parse has passed it: an `&` may be far ahead, and looking for it from every text and value anew would read
   * the rest of the buffer each time. The parse never goes back before where a search started (an entity's end steps
   * back one character, past the `&` a search found), so what was found still holds. A new buffer forgets them.
   */
  readonly nextLt = new NextChar('<');
  readonly nextAmp = new NextChar('&');
  readonly nextDoubleQuote = new NextChar('"');
  readonly nextSingleQuote = new NextChar("'");

  override write(chunk: string): void {
    this.nextLt.at = this.nextAmp.at = this.nextDoubleQuote.at = this.nextSingleQuote.at = -1;
    super.write(chunk);
  }
}

/** The index of the next `char` in a buffer at or after where it was last asked for (the buffer's length when none). */
class NextChar {
  /** -1 before the buffer is searched. */
  at = -1;
  constructor(private readonly char: string) {}

  /** The next `char` at or after `from`; the one found before when it is not behind `from`. */
  from(buffer: string, from: number): number {
    if (this.at < from) {
      const at = buffer.indexOf(this.char, from);
      this.at = at < 0 ? buffer.length : at;
    }
    return this.at;
  }
}

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
  nextLt: NextChar;
  nextAmp: NextChar;
  nextDoubleQuote: NextChar;
  nextSingleQuote: NextChar;
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
  fastForwardTo(c: number): boolean;
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
 * Moves `index` to just before the next of two characters in the buffer (or to its last character): the parse loop
 * steps onto it next, or stops at the end of the buffer, where it emits what it has read, as it would have.
 */
function skipUntil(tokenizer: Internals, a: NextChar, b: NextChar): void {
  const buffer = tokenizer.buffer;
  const from = tokenizer.index - tokenizer.offset + 1;
  tokenizer.index = tokenizer.offset + Math.min(a.from(buffer, from), b.from(buffer, from)) - 1;
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
  else skipUntil(this, this.nextLt, this.nextAmp);
};
proto.stateInAttributeValueDoubleQuotes = function (this: Internals, c: number) {
  if (c === DOUBLE_QUOTE || c === AMP) stateInAttributeValueDoubleQuotes.call(this, c);
  else skipUntil(this, this.nextDoubleQuote, this.nextAmp);
};
proto.stateInAttributeValueSingleQuotes = function (this: Internals, c: number) {
  if (c === SINGLE_QUOTE || c === AMP) stateInAttributeValueSingleQuotes.call(this, c);
  else skipUntil(this, this.nextSingleQuote, this.nextAmp);
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
/**
 * The tokenizer's own skip, in script and style text, comments and declarations: to the next `c` (true), or to the
 * buffer's last character (false), with the string's search instead of a loop over the characters.
 */
proto.fastForwardTo = function (this: Internals, c: number): boolean {
  const at = this.buffer.indexOf(String.fromCharCode(c), this.index - this.offset + 1);
  if (at < 0) {
    this.index = this.offset + this.buffer.length - 1;
    return false;
  }
  this.index = this.offset + at;
  return true;
};
