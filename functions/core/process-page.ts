import { crawlPage } from './engine.js';
import type { FetchLimits } from './fetch-limits.js';
import type { CrawlStore, PageMessage, PageQueue } from './ports.js';
import { normalizeUrl } from './url.js';

export interface ProcessDeps {
  store: CrawlStore;
  queue: PageQueue;
  limits: FetchLimits;
  now?: () => Date;
}

export type ProcessOutcome = 'recorded' | 'duplicate';

/**
 * The use case behind one SQS message. Idempotent: a redelivered message whose outcome is already stored does no
 * fetch and counts nothing again. Links are registered and queued before the page is recorded, so a crash in
 * between is repaired by the redelivery instead of leaving the crawl short of its children.
 */
export async function processPage(message: PageMessage, deps: ProcessDeps): Promise<ProcessOutcome> {
  const now = deps.now ?? (() => new Date());
  if (await deps.store.hasPage(message.crawlId, message.url)) {
    await deps.store.completeIfDone(message.crawlId, now().toISOString());
    return 'duplicate';
  }
  const { summary, outlinks } = await crawlPage(message.url, deps.limits);

  if (summary.ok && message.depth < message.maxDepth) {
    const candidates = linksToFollow(outlinks, message);
    if (candidates.length > 0) {
      const toQueue = await deps.store.registerLinks(message.crawlId, message.url, candidates, message.maxPages);
      const unsent = await deps.queue.send(toQueue.map((url) => ({ ...message, url, depth: message.depth + 1 })));
      // Throwing makes SQS redeliver this message; registerLinks then hands back the same children to queue again.
      if (unsent.length > 0) throw new Error(`${unsent.length} discovered URLs could not be queued`);
    }
  }

  const outcome = await deps.store.recordPage(message.crawlId, summary, message.depth);
  await deps.store.putLatest(message.crawlId, summary);
  await deps.store.completeIfDone(message.crawlId, now().toISOString());
  return outcome;
}

function linksToFollow(outlinks: readonly string[], message: PageMessage): string[] {
  const origin = new URL(message.url).origin;
  const out: string[] = [];
  for (const link of outlinks) {
    const check = normalizeUrl(link);
    if (!check.ok) continue;
    if (message.sameOrigin && new URL(check.url).origin !== origin) continue;
    if (check.url !== message.url) out.push(check.url);
  }
  return out;
}
