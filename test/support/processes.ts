import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a process wrote so far: each stream, and both in the order they came (as a terminal shows them). */
export interface Output {
  stdout: string;
  stderr: string;
  all: string;
}

export interface Run extends Output {
  code: number | null;
}

export interface ProcessOptions {
  /** Added to this process's environment; a variable set to undefined is left out. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export interface Started {
  child: ChildProcessWithoutNullStreams;
  output(): Output;
  /** Its exit code, once it has exited (processes it started may still hold its output open). */
  exited: Promise<number | null>;
  /** Its exit code and everything it wrote, once its output is closed. */
  done: Promise<Run>;
}

/**
 * A command as a child process, its output collected. A caller may read or close `child.stdout` itself too (to stop
 * reading early, as `| head` does).
 */
export function startProcess(command: string, args: readonly string[], options: ProcessOptions = {}): Started {
  const child = spawn(command, args, { env: { ...process.env, ...options.env }, ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
  const out: Output = { stdout: '', stderr: '', all: '' };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream].setEncoding('utf8');
    child[stream].on('data', (text: string) => {
      out[stream] += text;
      out.all += text;
    });
  }
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ ...out, code })));
  return { child, output: () => out, exited, done };
}

const CRAWLER = fileURLToPath(new URL('../../cli/crawler.js', import.meta.url));

/**
 * The `crawler` command line as a user runs it, in a process of its own. This process's ALLOW_PRIVATE_NETWORK (which
 * the tests that start a local stack set) does not reach it unless `env` gives it.
 */
export function startCrawler(args: readonly string[], options: ProcessOptions = {}): Started {
  return startProcess(process.execPath, [CRAWLER, ...args], { ...options, env: { ALLOW_PRIVATE_NETWORK: undefined, ...options.env } });
}

/** startCrawler's exit code and output, once it has ended. */
export const runCrawler = (args: readonly string[], options: ProcessOptions = {}): Promise<Run> =>
  startCrawler(args, options).done;
