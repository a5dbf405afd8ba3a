/**
 * A document as the tokenizer is given it, piece by piece: its indices are the document's (as the tokenizer's are),
 * and a range is read from the piece that holds it, or joined from the pieces it spans. Only the pieces a later range
 * may still start in are kept: the ranges asked for start in document order, as the tokens they come from do, so a
 * piece wholly before the start of the latest range is let go, unless `pin` holds it for a range to be read later.
 */
/** A range was asked for that starts before the pieces still kept. */
export class RangeNotKept extends RangeError {}

export class DocumentPieces {
  private readonly pieces: (string | undefined)[] = [];
  private readonly starts: number[] = [];
  /** The first piece still kept. */
  private first = 0;
  private pinnedFrom = Infinity;
  /** The latest piece, and its index in the document: where almost every range lies. */
  last = '';
  lastStart = 0;

  add(piece: string): void {
    this.pieces.push(piece);
    this.starts.push(this.lastStart + this.last.length);
    this.lastStart += this.last.length;
    this.last = piece;
  }

  /** Keeps the pieces from `index` on until `unpin`, for a range that starts there and is read later. */
  pin(index: number): void {
    this.pinnedFrom = index;
  }

  unpin(): void {
    this.pinnedFrom = Infinity;
  }

  /** `start` is where the range being read starts: the pieces before it (and before any pin) are let go. */
  private release(start: number): void {
    const before = Math.min(start, this.pinnedFrom);
    while (this.first < this.pieces.length - 1 && this.starts[this.first + 1]! <= before) this.pieces[this.first++] = undefined;
  }

  /** `document.slice(start, end)`. */
  slice(start: number, end: number): string {
    if (start >= this.lastStart) {
      if (this.first < this.pieces.length - 1) this.release(start);
      return this.last.slice(start - this.lastStart, end - this.lastStart);
    }
    if (start < this.starts[this.first]!) throw new RangeNotKept(`the document before index ${this.starts[this.first]} is no longer kept (asked for ${start})`);
    this.release(start);
    let text = '';
    for (let i = this.first; i < this.pieces.length && this.starts[i]! < end; i++) {
      const from = this.starts[i]!;
      text += this.pieces[i]!.slice(Math.max(0, start - from), end - from);
    }
    return text;
  }
}
