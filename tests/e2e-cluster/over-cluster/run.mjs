// Runs the single-node suite over a 3-node cluster (register.mjs) without the tests whose titles
// match EXCLUDE, and fails unless exactly the expected tests ran and passed. node's test runner
// reports success when a name pattern filters every test away; counting the titles in the files
// and holding the runner's own counts against them makes that impossible.
//
//   node over-cluster/run.mjs EXCLUDE_REGEX FILE...
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

const [exclude, ...files] = process.argv.slice(2);
if (!exclude || files.length === 0) {
  console.error('usage: node over-cluster/run.mjs EXCLUDE_REGEX FILE...');
  process.exit(2);
}
const excluded = new RegExp(`^(?:${exclude})`);  // anchored, as the runner's pattern is

// Titles of the top-level tests: test('…' / test("…" / test(`…`.
const titles = [];
for (const file of files) {
  const source = readFileSync(file, 'utf8');
  for (const m of source.matchAll(/^test\((['"`])((?:\\.|(?!\1).)*)\1/gm)) titles.push(m[2].replace(/\\(.)/g, '$1'));
}
const expected = titles.filter((title) => !excluded.test(title));
if (expected.length === 0) {
  console.error(`run.mjs: the exclusion ${exclude} leaves no test of ${titles.length} to run`);
  process.exit(1);
}

const args = ['--import', './over-cluster/register.mjs', '--test', '--test-concurrency=1', '--test-reporter=tap',
  `--test-name-pattern=^(?!<root>|${exclude})`, ...files];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let tap = '';
child.stdout.on('data', (chunk) => {
  tap += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const count = (name) => Number((tap.match(new RegExp(`^# ${name} (\\d+)$`, 'm')) ?? [])[1] ?? NaN);
  const ran = count('tests') - count('skipped');  // skipped: filtered out by the name pattern
  const passed = count('pass');
  console.log(`run.mjs: ${ran} tests ran, ${passed} passed; expected ${expected.length} of ${titles.length} (exclusion ${exclude})`);
  if (code !== 0) process.exit(code ?? 1);
  if (ran !== expected.length || passed !== expected.length) {
    console.error('run.mjs: the number of tests that ran is not the number expected');
    process.exit(1);
  }
});
