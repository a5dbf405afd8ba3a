/**
 * `npm run bench`: benchmarks, not tests. Each prints our figures beside a baseline measured in the same run, so
 * the ratios hold on any machine; absolute times vary with the machine.
 */
import '../local/quiet-sdk-notice.js';
import { benchBundles } from './bundles.js';
import { benchCli } from './cli.js';
import { benchCost } from './cost.js';
import { benchLocalStack } from './local-stack.js';
import { benchParsing } from './parse.js';
import { benchPoliteness } from './politeness.js';
import { benchScope } from './scope.js';
import { benchThroughput } from './throughput.js';

const sections: Record<string, () => Promise<void>> = { parse: benchParsing, throughput: benchThroughput, bundles: benchBundles, stack: benchLocalStack, cost: benchCost, scope: benchScope, politeness: benchPoliteness, cli: benchCli };
const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(sections)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
