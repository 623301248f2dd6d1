// Evaluates every source of cases.json with the real server's expression engine and writes expected.json.
//   node record.mjs   (run from a folder whose node_modules has @objectstack/formula 17.4.0: OS_REAL/my-app)
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(process.env.OS_REAL_APP || process.cwd(), 'package.json'));
const { celEngine } = require('@objectstack/formula');
const cases = JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8'));
const ctx = { record: cases.record, previous: cases.previous, now: new Date(cases.now) };
const results = cases.sources.map((source) => {
  const r = celEngine.evaluate({ dialect: 'cel', source }, ctx);
  return r.ok
    ? { source, value: r.value === undefined ? null : r.value }
    : { source, error: r.error.kind + ': ' + r.error.message.split('\n')[0] };
});
writeFileSync(join(here, 'expected.json'), JSON.stringify(results, null, 1) + '\n');
console.log(`${results.length} expressions recorded`);
