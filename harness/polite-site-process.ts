import { fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { recorder, WARM_UP_PATH, type RecordingSite, type SiteRequest } from './polite-site.js';

/** What a site in its own process can be given: plain data. */
export interface PoliteSiteProcessOptions {
  /** robots.txt: its body (200), or a fixed answer; none answers 404. */
  robots?: string | { status: number; body?: string };
  /** The pages' links (polite-site.ts's linkPage); without them a page links to its `?links=`. */
  links?: Record<string, string[]>;
  latencyMs?: number;
}

const CHILD = fileURLToPath(new URL('./polite-site-child.mjs', import.meta.url));

/**
 * startPoliteSite in a process of its own: the times it records are taken on an event loop that the crawler under
 * test (consumers, the local stack's containers, in this process) cannot hold up, so a gap it measures is the gap
 * between the requests' arrivals. `requests` fills as the child reports them; `sync()` waits for every one so far.
 */
export async function startPoliteSiteProcess(options: PoliteSiteProcessOptions = {}): Promise<RecordingSite> {
  const child = fork(CHILD, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // Ahead of the machine's other work where the system lets us (root, or CAP_SYS_NICE): on a loaded machine (the
  // whole suite on two cores) a site process waiting for a CPU would stamp a request late, and shorten the gap after.
  try {
    if (child.pid !== undefined) setPriority(child.pid, -10);
  } catch {
    // Not allowed here: the site runs at the usual priority.
  }
  const requests: SiteRequest[] = [];
  const waiting = new Map<number, () => void>();
  let syncs = 0;
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the site process exited (${code}) before it listened`)));
    child.on('message', (message: { url?: string; request?: SiteRequest; synced?: number }) => {
      if (message.url) resolve(message.url);
      if (message.request) requests.push(message.request);
      if (message.synced !== undefined) waiting.get(message.synced)?.();
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // The child's first requests run code paths for the first time (tens of ms): not what a test should measure.
  for (let i = 0; i < 3; i++) await (await fetch(`${url}${WARM_UP_PATH}`)).arrayBuffer();
  const sync = () =>
    new Promise<void>((resolve) => {
      const id = ++syncs;
      waiting.set(id, () => {
        waiting.delete(id);
        resolve();
      });
      child.send({ sync: id });
    });
  return {
    url,
    close: async () => {
      if (child.connected) child.disconnect();
      await exited;
    },
    ...recorder(requests, sync),
  };
}
