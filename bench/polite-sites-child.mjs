// Many small loopback sites in one process of their own (bench/politeness.ts): each on its own port, so its own host
// to the crawler's pacing. Times are taken here, on an event loop the crawler under test cannot hold up, and sent
// back when asked ({report}), so measuring adds nothing to the run.
import { createServer } from 'node:http';
import { performance } from 'node:perf_hooks';

const { count, robots, links } = JSON.parse(process.argv[2] ?? '{}');
/** Each site's home page links its pages /page/0 … /page/{links - 1}: a crawl seeded there finds them. */
const home = Array.from({ length: links ?? 0 }, (_, p) => `<a href="/page/${p}">page ${p}</a>`).join('');
/** Per site: [path, arrival epoch ms] of every request. */
const records = Array.from({ length: count }, () => []);
const servers = [];
for (let i = 0; i < count; i++) {
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    records[i].push([req.url, performance.timeOrigin + performance.now()]);
    if (req.url === '/robots.txt') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(robots);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><title>${req.url}</title><p>page ${req.url}</p>${req.url === '/' ? home : ''}`);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
}
process.on('message', (message) => {
  if (message?.report) process.send?.({ records });
});
process.on('disconnect', () => {
  for (const server of servers) server.close();
  process.exit(0);
});
process.send?.({ urls: servers.map((s) => `http://127.0.0.1:${s.address().port}`) });
