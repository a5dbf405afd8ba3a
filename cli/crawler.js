#!/usr/bin/env node
// The `crawler` command. The sources are TypeScript; tsx compiles them on the fly, so there is no build step.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
