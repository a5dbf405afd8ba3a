/** The command's exit codes, as `crawler --help` and the README list them. */
export const EXIT = {
  ok: 0,
  /** An API or network error. */
  failed: 1,
  /** Bad usage: an unknown command or option, a bad value. */
  usage: 2,
  /** --timeout passed before the crawl completed (124, as timeout(1) exits). */
  timeout: 124,
  /** Ctrl-C while waiting (128 + SIGINT). */
  interrupted: 130,
} as const;

/** Bad usage: the message says what was wrong and what is expected; exits 2. */
export class UsageError extends Error {}

/**
 * A reader that stops early (`crawler pages ID | head -1`) closes the pipe; the next write fails with EPIPE. That
 * is not an error of ours: end quietly, as coreutils tools do, instead of an unhandled 'error' event's stack trace.
 */
export function exitQuietlyOnBrokenPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      // The exit code stays whatever the command had set (0 unless it failed before the reader left).
      if (err.code === 'EPIPE') process.exit();
      throw err;
    });
  }
}
