#!/usr/bin/env node
// Loads each document of test/fixtures/field-rules.json in headless Chromium (scripting off) and prints what the
// browser computes, so the expectations the unit tests hold can be re-checked against a real browser:
//   sudo apt-get install chromium && npm run check:chromium [-- --write]
// With --write, the browser's answers are written back into the fixture as each case's "chromium" field.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { chromium } from 'playwright-core';

const fixture = new URL('../test/fixtures/field-rules.json', import.meta.url);
const cases = JSON.parse(readFileSync(fixture, 'utf8'));
const server = http.createServer((req, res) => {
  const c = cases[Number(req.url.slice(1))];
  if (!c) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(c.html);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
for (let i = 0; i < cases.length; i++) {
  await page.goto(`http://127.0.0.1:${server.address().port}/${i}`);
  // The same questions expected.json asked of the corpus; links are read back resolved, to check their text.
  cases[i].chromium = await page.evaluate(() => {
    const description = document.querySelector('meta[name="description" i]');
    const canonical = document.querySelector('link[rel~="canonical" i]');
    return {
      title: document.title,
      lang: document.documentElement.getAttribute('lang'),
      description: description ? (description.getAttribute('content') ?? '').trim() : null,
      canonical: canonical ? (canonical.getAttribute('href') ?? '').trim() : null,
      h1: document.querySelectorAll('h1').length,
      links: document.querySelectorAll('a[href]').length,
      images: document.querySelectorAll('img').length,
      hrefs: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
    };
  });
  console.log(JSON.stringify({ name: cases[i].name, ...cases[i].chromium }));
}
await browser.close();
server.close();
if (process.argv.includes('--write')) writeFileSync(fixture, JSON.stringify(cases, null, 1) + '\n');
