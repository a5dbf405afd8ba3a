import { Tokenizer } from 'htmlparser2';

/**
 * htmlparser2's Tokenizer (10.1.0, pinned), stepping over plain text and quoted attribute values in one tight loop.
 *
 * The tokenizer looks at every character through its state switch. In text and in a quoted attribute value only a
 * few characters do anything (`<` and `&` in text; the quote and `&` in a value), and these states are where most of
 * a page's characters are read, so here they skip ahead to the next such character, as the tokenizer already does in
 * comments and script text (its `fastForwardTo`). Everything else, and what happens at those characters, is the
 * tokenizer's own code: the same events at the same indices. The overridden states are private in htmlparser2's
 * types, hence the prototype assignments.
 */
export class ScanTokenizer extends Tokenizer {}

const LT = 0x3c;
const AMP = 0x26;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;

/** The Tokenizer's fields and states used here. */
interface Internals {
  buffer: string;
  index: number;
  offset: number;
  stateText(c: number): void;
  stateInAttributeValueDoubleQuotes(c: number): void;
  stateInAttributeValueSingleQuotes(c: number): void;
}

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
