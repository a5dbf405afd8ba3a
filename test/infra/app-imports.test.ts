import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

describe('the CDK app', () => {
  it('loads no Lambda runtime library (Powertools, the AWS SDK)', async () => {
    const result = await build({
      entryPoints: [new URL('../../bin/app.ts', import.meta.url).pathname],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      write: false,
      metafile: true,
      outfile: 'app.js',
      logLevel: 'silent',
    });
    const packages = Object.values(result.metafile.outputs).flatMap((output) => output.imports.filter((i) => i.external).map((i) => i.path));
    expect(packages.filter((name) => /^@aws-lambda-powertools\/|^@aws-sdk\/|^@smithy\//.test(name))).toEqual([]);
    expect(packages).toContain('aws-cdk-lib');
  });
});
