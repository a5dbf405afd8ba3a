import type { PageFields } from '../../functions/core/model/summary.js';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';

/**
 * A generated loopback site. /page/N are HTML pages whose fields vary with N (so a mixed-up summary is caught);
 * /missing/N answer 404; /graph/N link to /graph/(2N+1) and /graph/(2N+2) (a binary tree) plus an off-site link;
 * /shifting/N links to three /page/ URLs that differ on every fetch (a page whose links change between deliveries);
 * /vanishing/N links to three /page/ URLs on its first fetch and answers 404 after.
 */
export interface ExpectedPage extends PageFields {
  path: string;
}

export function expectedPage(n: number): ExpectedPage {
  return {
    path: `/page/${n}`,
    title: `Page ${n} — ünïcödé ✓`,
    lang: n % 3 === 0 ? null : n % 3 === 1 ? 'en' : 'fr-CA',
    description: n % 4 === 0 ? null : `About page ${n}`,
    canonical: n % 5 === 0 ? `/canonical/${n}` : null,
    h1: n % 3,
    links: n % 7,
    images: n % 4,
  };
}

function pageHtml(n: number): string {
  const e = expectedPage(n);
  const head = [
    `<title>\n  Page ${n}   —  ünïcödé\t✓ </title>`,
    e.description !== null ? `<meta name="${n % 2 ? 'Description' : 'description'}" content="  ${e.description} ">` : '',
    e.canonical !== null ? `<link rel="canonical" href="${e.canonical}">` : '',
  ].join('');
  const body = [
    ...Array.from({ length: e.h1 }, (_, i) => `<h1>Heading ${i}</h1>`),
    ...Array.from({ length: e.links }, (_, i) => `<a href="/elsewhere/${n}/${i}">link</a>`),
    '<a name="no-href">not a link</a>',
    ...Array.from({ length: e.images }, (_, i) => `<img src="/i/${i}.png" alt="">`),
  ].join('\n');
  return `<!DOCTYPE html><html${e.lang !== null ? ` lang="${e.lang}"` : ''}><head><meta charset="utf-8">${head}</head><body>${body}</body></html>`;
}

export async function startSite(): Promise<LoopbackServer & { hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = await startLoopbackServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const [, kind, num] = path.split('/');
    const n = Number(num);
    if (kind === 'page' && Number.isInteger(n)) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(pageHtml(n));
    } else if (kind === 'graph' && Number.isInteger(n)) {
      const links = [2 * n + 1, 2 * n + 2].map((c) => `<a href="/graph/${c}#frag">child</a>`).join('');
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>graph ${n}</title>${links}<a href="/graph/0">root</a><a href="http://other.invalid/">off-site</a>`);
    } else if (kind === 'shifting' && Number.isInteger(n)) {
      const base = 10_000 + n * 100 + hits.get(path)! * 3;
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>shifting ${n}</title>${[0, 1, 2].map((i) => `<a href="/page/${base + i}">p</a>`).join('')}`);
    } else if (kind === 'vanishing' && Number.isInteger(n) && hits.get(path) === 1) {
      const base = 20_000 + n * 10;
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<title>vanishing ${n}</title>${[0, 1, 2].map((i) => `<a href="/page/${base + i}">p</a>`).join('')}`);
    } else {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<title>Not found</title>');
    }
  });
  return Object.assign(server, { hits });
}
