import * as z from 'zod/mini';

/** One SQS message: one URL of one crawl, with what the consumer needs to follow its links. */
export const pageMessageSchema = z.object({
  crawlId: z.string().check(z.minLength(1)),
  url: z.string().check(z.minLength(1)),
  depth: z.int().check(z.minimum(0)),
  maxDepth: z.int().check(z.minimum(0)),
  sameOrigin: z.boolean(),
  maxPages: z.optional(z.int().check(z.minimum(1))),
  /**
   * Attempts this URL used in earlier messages: a URL that waited for its host's turn is sent again as a new message
   * (its receive count starts over), and its attempts travel with it. Absent means none.
   */
  attempts: z.optional(z.int().check(z.minimum(0))),
  /**
   * The start this URL reserved on its host (epoch ms), when it was sent again to come back for its turn
   * (core/polite/pacing-policy.ts). Absent means none.
   */
  reservation: z.optional(z.int().check(z.minimum(0))),
  /**
   * When this URL was first sent away to wait for its host's turn (epoch ms): waits do not use up attempts, so this
   * bounds them instead (process-page.ts: MAX_WAIT_FOR_TURN_MS). Absent means it never waited.
   */
  waitingSince: z.optional(z.int().check(z.minimum(0))),
});
export type PageMessage = z.infer<typeof pageMessageSchema>;
