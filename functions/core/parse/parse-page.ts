import type { DocumentText } from './decode.js';
import { scanHtml } from './streaming-pass.js';
import type { PageFields } from '../model/summary.js';
import type { PageLinks } from './links.js';
import { scanTree } from './tree-builder.js';

export interface ParsedPage {
  fields: PageFields;
  pageLinks: PageLinks;
  /** The Summary's textHash (see PageScan). */
  textHash: string;
  /** Which parser produced the fields: the streaming pass, or the standard's tree builder when the pass gave up. */
  parser: 'stream' | 'tree';
}

/**
 * Computes the Summary's page fields of a decoded document (its text, or its text in pieces) as a browser with
 * scripting off would, and its links. `documentUrl` is the URL the document was fetched from, to resolve links.
 */
export async function parsePage(html: string | Pick<DocumentText, 'pieces' | 'whole'>, documentUrl: string): Promise<ParsedPage> {
  const scanned = await scanHtml(typeof html === 'string' ? html : html.pieces);
  const parser = 'needsTreeBuilder' in scanned ? 'tree' : 'stream';
  const page = 'needsTreeBuilder' in scanned ? await scanTree(typeof html === 'string' ? html : html.whole()) : scanned;
  const { hrefs, baseHref, nofollow, textHash, ...fields } = page;
  return { fields, pageLinks: { hrefs, baseHref, nofollow }, textHash, parser };
}
