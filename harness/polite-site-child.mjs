// A polite site (polite-site.ts) in a process of its own, started by startPoliteSiteProcess: it reports its URL and
// then every request it records over IPC, and answers a {sync} message once every earlier record is sent.
import { register } from 'tsx/esm/api';

register();
const { startPoliteSite, linkPage } = await import('./polite-site.ts');
const options = JSON.parse(process.argv[2] ?? '{}');
const site = await startPoliteSite({
  ...(options.robots !== undefined ? { robots: typeof options.robots === 'string' ? options.robots : () => options.robots } : {}),
  ...(options.links ? { answer: linkPage(options.links) } : {}),
  ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}),
  onRequest: (request) => process.send?.({ request }),
});
process.on('message', (message) => {
  if (message?.sync !== undefined) process.send?.({ synced: message.sync });
});
process.on('disconnect', () => {
  void site.close().then(() => process.exit(0));
});
process.send?.({ url: site.url });
