import { createHash } from 'node:crypto';

/** ASCII whitespace, as the HTML standard counts it. */
const ASCII_WHITESPACE = /[\t\n\f\r ]+/g;
/** Collapsed text is hashed in batches of about this many characters: few hash calls, little text held. */
const BATCH_CHARS = 16 * 1024;

/**
 * The Summary's `textHash`, built as a parser hands over the page's text piece by piece: SHA-256 (hex) of the text
 * with runs of ASCII whitespace collapsed to one space and stripped at both ends. Only a small batch of text is held;
 * a run of whitespace that ends one piece is written only once text follows it, so the trailing one never is.
 */
export class TextHash {
  private readonly hash = createHash('sha256');
  private batch = '';
  private started = false;
  private spaceBefore = false;

  add(text: string): void {
    if (text.length === 0) return;
    let collapsed = text.replace(ASCII_WHITESPACE, ' ');
    if (collapsed.charCodeAt(0) === 0x20) {
      this.spaceBefore = true;
      collapsed = collapsed.slice(1);
      if (collapsed.length === 0) return;
    }
    const spaceAfter = collapsed.charCodeAt(collapsed.length - 1) === 0x20;
    if (spaceAfter) collapsed = collapsed.slice(0, -1);
    if (this.spaceBefore && this.started) this.batch += ' ';
    this.batch += collapsed;
    this.started = true;
    this.spaceBefore = spaceAfter;
    if (this.batch.length >= BATCH_CHARS) this.hashBatch(false);
  }

  /** What `add` does with text that is all whitespace: a space, if text follows. */
  space(): void {
    this.spaceBefore = true;
  }

  digest(): string {
    this.hashBatch(true);
    return this.hash.digest('hex');
  }

  /** A batch never ends between the two halves of a surrogate pair: each half alone would hash as U+FFFD. */
  private hashBatch(last: boolean): void {
    const lastUnit = this.batch.charCodeAt(this.batch.length - 1);
    const cut = !last && lastUnit >= 0xd800 && lastUnit <= 0xdbff ? this.batch.length - 1 : this.batch.length;
    this.hash.update(this.batch.slice(0, cut));
    this.batch = this.batch.slice(cut);
  }
}

