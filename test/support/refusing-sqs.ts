import { request } from 'node:http';
import { startLoopbackServer, type LoopbackServer } from '../../harness/loopback-server.js';
import type { LocalFunction } from '../../local/lambda-runtime.js';

/**
 * A proxy in front of the local SQS server that refuses, on every try, the SendMessageBatch entries whose body contains
 * `marker`, as SQS reports entries it could not take (in `Failed`, the rest sent): a real SQS cannot be made to fail
 * on cue. Everything else passes through untouched. sendThrough() points a local function at it.
 */
export async function startRefusingSqs(target: string, marker: string): Promise<LoopbackServer & { refused: number }> {
  let refused = 0;
  const server = await startLoopbackServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
    if (req.headers['x-amz-target'] === 'AmazonSQS.SendMessageBatch') {
      const batch = JSON.parse(body.toString('utf8')) as { Entries: { Id: string; MessageBody: string }[] };
      const refuse = (e: { MessageBody: string }) => e.MessageBody.includes(marker);
      for (const entry of batch.Entries.filter(refuse)) failed.push({ Id: entry.Id, SenderFault: false, Code: 'InternalError', Message: 'refused by the test' });
      refused += failed.length;
      batch.Entries = batch.Entries.filter((e) => !refuse(e));
      if (batch.Entries.length === 0) {
        return void res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify({ Successful: [], Failed: failed }));
      }
      body = Buffer.from(JSON.stringify(batch));
    }
    const headers = { ...req.headers, 'content-length': String(body.length) };
    const upstream = request(new URL(req.url!, target), { method: req.method!, headers }, async (answer) => {
      const parts: Buffer[] = [];
      for await (const chunk of answer) parts.push(chunk as Buffer);
      let text = Buffer.concat(parts).toString('utf8');
      if (failed.length > 0 && answer.statusCode === 200) {
        const result = JSON.parse(text) as { Failed?: unknown[] };
        text = JSON.stringify({ ...result, Failed: [...(result.Failed ?? []), ...failed] });
      }
      const { 'content-length': _length, 'transfer-encoding': _encoding, ...rest } = answer.headers;
      res.writeHead(answer.statusCode!, { ...rest, 'content-length': String(Buffer.byteLength(text)) }).end(text);
    });
    upstream.on('error', (err) => res.destroy(err));
    upstream.end(body);
  });
  return Object.defineProperty(server as LoopbackServer & { refused: number }, 'refused', { get: () => refused });
}

/**
 * Points a local function's containers started from now on at `proxy` instead of the SQS server at `sqsEndpoint`, as
 * `aws lambda update-function-configuration --environment` would: every variable naming that server (its endpoint,
 * its queue URLs, which the SDK sends to whatever their host) names the proxy instead.
 */
export function sendThrough(fn: LocalFunction, sqsEndpoint: string, proxy: string): void {
  const env = fn.options.environment;
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string' && value.startsWith(sqsEndpoint)) env[name] = `${proxy}${value.slice(sqsEndpoint.length)}`;
}
