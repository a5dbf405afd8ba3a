import type { BuildOptions } from 'esbuild';

/**
 * How every Lambda bundle is built, in plain data: the CDK functions (lib/crawler-function.ts) and the bundle
 * benchmark (bench/bundles.ts) both build from this, so the bench measures what is deployed.
 */
export const BUNDLING = {
  format: 'esm',
  target: 'node24',
  minify: true,
  sourceMap: true,
  mainFields: ['module', 'main'],
  // Some CommonJS dependencies call require() for Node built-ins; an ESM bundle needs it defined.
  banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
} as const;

/** The same settings as esbuild build options, for code that bundles without CDK (the bench, a test). */
export const ESBUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: BUNDLING.format,
  target: BUNDLING.target,
  minify: BUNDLING.minify,
  mainFields: [...BUNDLING.mainFields],
  banner: { js: BUNDLING.banner },
  logLevel: 'error',
};

export const HANDLER_FILES = ['submit', 'read', 'consume', 'reconcile', 'publish', 'deliver'] as const;
export type HandlerFile = (typeof HANDLER_FILES)[number];
