import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

export const LOCAL_ENDPOINT = `http://127.0.0.1:${process.env['PORT'] ?? 3000}`;

export class EndpointError extends Error {}

export interface Endpoint {
  url: string;
  /** Where the URL came from, for messages. */
  source: string;
}

/** The API URL in a `cdk deploy --outputs-file` file: the first stack with an `ApiUrl` output. */
function fromOutputsFile(file: string): string {
  let outputs: unknown;
  try {
    outputs = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new EndpointError(`cannot read the stack outputs in ${file}: ${(err as Error).message}`);
  }
  for (const stack of Object.values((outputs ?? {}) as Record<string, Record<string, unknown>>)) {
    const url = stack?.['ApiUrl'];
    if (typeof url === 'string') return url;
  }
  throw new EndpointError(`${file} has no ApiUrl output; deploy with: npx cdk deploy --outputs-file ${file}`);
}

/**
 * Which API to talk to: --endpoint; else the ApiUrl in --outputs FILE (what `npx cdk deploy --outputs-file` writes);
 * else the local stack, as the contract says --endpoint defaults to. Nothing implicit (no environment variable, no
 * file picked up from the working directory) can point a command at a deployed stack.
 */
export function resolveEndpoint(flag: string | undefined, outputsFile: string | undefined): Endpoint {
  if (flag !== undefined) {
    if (!isHttpUrl(flag)) throw new UsageError(`--endpoint "${flag}" is not an absolute http(s) URL; ${WHAT_AN_ENDPOINT_IS}`);
    return { url: flag, source: '--endpoint' };
  }
  if (outputsFile !== undefined) {
    const url = fromOutputsFile(outputsFile);
    if (!isHttpUrl(url)) throw new EndpointError(`the ApiUrl "${url}" in ${outputsFile} is not an absolute http(s) URL; ${WHAT_AN_ENDPOINT_IS}`);
    return { url, source: outputsFile };
  }
  return { url: LOCAL_ENDPOINT, source: 'the local stack' };
}

const WHAT_AN_ENDPOINT_IS =
  `give the local stack's address (${LOCAL_ENDPOINT}) or the ApiUrl that \`npx cdk deploy\` prints among its outputs ` +
  '(https://<id>.execute-api.<region>.amazonaws.com/v1/)';

function isHttpUrl(text: string): boolean {
  const url = URL.parse(text);
  return url !== null && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

const EXECUTE_API = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/;

/**
 * Whether requests must be SigV4-signed, and for which region: always for an execute-api host (the deployed API
 * requires IAM authorization), or when asked (`--sigv4`, e.g. for a custom domain); never for the local stack.
 */
export function signingRegion(url: string, forced: boolean): string | null {
  const host = new URL(url).hostname;
  const match = EXECUTE_API.exec(host);
  if (match) return match[1]!;
  if (!forced) return null;
  const region = process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'];
  if (!region) throw new EndpointError(`set AWS_REGION to sign requests to ${host}`);
  return region;
}
