import type { CrawlStatusView } from '../functions/core/crawl/read-crawls.js';

const clock = (seconds: number) => {
  const s = Math.max(0, Math.round(seconds));
  return s >= 3600 ? `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/**
 * Progress of a crawl: a live bar redrawn in place on a terminal, plain lines (at most one every `lineEveryMs`) when
 * the output is a file or a pipe. Rate and ETA come from the last ~10 s of progress.
 */
export class Progress {
  private readonly samples: { at: number; done: number }[] = [];
  private lastLine = 0;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly interactive: boolean,
    private readonly lineEveryMs = 5_000,
    private readonly now = () => Date.now(),
  ) {}

  update(status: CrawlStatusView): void {
    const at = this.now();
    const done = status.succeeded + status.failed;
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - this.samples[0]!.at > 10_000) this.samples.shift();
    const first = this.samples[0]!;
    const rate = at > first.at ? ((done - first.done) * 1000) / (at - first.at) : 0;
    const left = status.total - done;
    const eta = status.status === 'completed' || status.completedAt ? 'done' : rate > 0 ? `ETA ${clock(left / rate)}` : 'ETA —';
    const percent = status.total > 0 ? Math.floor((100 * done) / status.total) : 0;
    const facts = `${done.toLocaleString('en-US')}/${status.total.toLocaleString('en-US')} ${String(percent).padStart(3)}% · ${status.failed} failed · ${rate.toFixed(1)} pages/s · ${eta}`;
    if (this.interactive) {
      const width = 24;
      const filled = status.total > 0 ? Math.round((width * done) / status.total) : 0;
      this.out.write(`\r\u001b[2K[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${facts}`);
      this.drawn = true;
    } else if (status.status === 'completed' || status.completedAt || at - this.lastLine >= this.lineEveryMs || this.lastLine === 0) {
      this.out.write(`${status.status}: ${facts}\n`);
      this.lastLine = at;
    }
  }

  /** Ends the bar's line, so what follows starts on a fresh one. */
  end(): void {
    if (this.interactive && this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}
