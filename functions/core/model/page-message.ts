import * as z from 'zod/mini';

/** One SQS message: one URL of one crawl, with what the consumer needs to follow its links. */
export const pageMessageSchema = z.object({
  crawlId: z.string().check(z.minLength(1)),
  url: z.string().check(z.minLength(1)),
  depth: z.int().check(z.minimum(0)),
  maxDepth: z.int().check(z.minimum(0)),
  sameOrigin: z.boolean(),
  maxPages: z.optional(z.int().check(z.minimum(1))),
});
export type PageMessage = z.infer<typeof pageMessageSchema>;
