import { createHash } from 'node:crypto';

/**
 * The runs of ASCII whitespace (as the HTML standard counts it) that collapsing changes: all but a lone space, the
 * commonest run, which the replace then leaves alone instead of replacing it with itself.
 */
const ASCII_WHITESPACE_TO_COLLAPSE = /[\t\n\f\r ]{2,}|[\t\n\f\r]/g;
/** Text is collapsed and hashed in batches of about this many characters: few hash calls, little text held. */
const BATCH_CHARS = 16 * 1024;

/**
 * The Summary's `textHash`, built as a parser hands over the page's text piece by piece: SHA-256 (hex) of the text
 * with runs of ASCII whitespace collapsed to one space and stripped at both ends. The pieces are only joined as they
 * come, and each batch is collapsed at once (a run of whitespace across two pieces is one run of the batch), which
 * costs far less than collapsing every piece. Only a small batch of text is held; a space or half a surrogate pair
 * that ends one batch is carried into the next, so the trailing space is never written.
 */
export class TextHash {
  private readonly hash = createHash('sha256');
  private batch = '';
  private started = false;

  add(text: string): void {
    this.batch += text;
    if (this.batch.length >= BATCH_CHARS) this.hashBatch(false);
  }

  /** Text that is all whitespace: `add` of a single space. */
  space(): void {
    this.batch += ' ';
  }

  digest(): string {
    this.hashBatch(true);
    return this.hash.digest('hex');
  }

  /** A batch never ends between the two halves of a surrogate pair: each half alone would hash as U+FFFD. */
  private hashBatch(last: boolean): void {
    let collapsed = this.batch.replace(ASCII_WHITESPACE_TO_COLLAPSE, ' ');
    if (!this.started && collapsed.charCodeAt(0) === 0x20) collapsed = collapsed.slice(1);
    let cut = collapsed.length;
    if (collapsed.charCodeAt(cut - 1) === 0x20) cut--;
    const lastUnit = collapsed.charCodeAt(cut - 1);
    if (!last && lastUnit >= 0xd800 && lastUnit <= 0xdbff) cut--;
    if (cut > 0) {
      this.hash.update(collapsed.slice(0, cut));
      this.started = true;
    }
    this.batch = collapsed.slice(cut);
  }
}
