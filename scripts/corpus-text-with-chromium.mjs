#!/usr/bin/env node
// Loads every page of the real-page corpus (test/fixtures/corpus) in headless Chromium with scripting off, served
// over loopback as the corpus README says, and records the SHA-256 of the page's text as the browser has it (the
// Summary's textHash) into test/fixtures/corpus/expected-text.json, which the corpus test compares with ours:
//   sudo apt-get install chromium && node scripts/corpus-text-with-chromium.mjs [--dump DIR]
// --dump writes each page's text to DIR too, to see where a difference lies.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { chromium } from 'playwright-core';

const corpus = new URL('../test/fixtures/corpus/', import.meta.url);
const names = Object.keys(JSON.parse(readFileSync(new URL('expected.json', corpus), 'utf8')));
const dumpAt = process.argv.indexOf('--dump');
const dumpDir = dumpAt > 0 ? process.argv[dumpAt + 1] : null;
if (dumpDir) mkdirSync(dumpDir, { recursive: true });

const server = http.createServer((req, res) => {
  const name = decodeURIComponent(new URL(req.url, 'http://x').pathname.slice(1));
  if (!names.includes(name)) return res.writeHead(404).end();
  const contentType = name.startsWith('pages/') ? 'text/html; charset=utf-8' : 'text/html';
  res.writeHead(200, { 'content-type': contentType }).end(readFileSync(new URL(name, corpus)));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
const expectedText = {};
for (const name of names) {
  const url = `http://127.0.0.1:${server.address().port}/${encodeURIComponent(name)}`;
  // Only the page itself is loaded, once: no subresources, and a meta refresh does not take the page away.
  let loaded = false;
  await page.route('**/*', (route) => {
    // A navigation answered 204 No Content leaves the current document in place; an aborted one would not.
    if (route.request().isNavigationRequest() && loaded) return route.fulfill({ status: 204 });
    if (loaded || route.request().url() !== url) return route.abort();
    loaded = true;
    return route.continue();
  });
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  // The contract's text: the body's textContent without <script>, <style> and <template>, ASCII whitespace
  // collapsed and stripped ("strip and collapse ASCII whitespace", as document.title does). No body: no text.
  const text = await page.evaluate(() => {
    if (document.body === null) return '';
    const body = document.body.cloneNode(true);
    body.querySelectorAll('script, style, template').forEach((e) => e.remove());
    return body.textContent.replace(/[\t\n\f\r ]+/g, ' ').replace(/^ | $/g, '');
  });
  await page.unroute('**/*');
  expectedText[name] = { textHash: createHash('sha256').update(text).digest('hex'), textLength: text.length };
  if (dumpDir) writeFileSync(`${dumpDir}/${name.replace('/', '_')}.txt`, text);
  console.log(`${name} ${text.length}`);
}
await browser.close();
server.close();
writeFileSync(new URL('expected-text.json', corpus), JSON.stringify(expectedText, null, 1) + '\n');
