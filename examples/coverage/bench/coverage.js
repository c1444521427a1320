// The judge: runs the tests under Node's built-in coverage and leaves two real
// reports for the engine's metric sources: coverage/lcov.info (the records of
// src/ only) and coverage/junit.xml (the test count). Failing tests do not stop
// the measurement: the checks command decides whether the tests pass.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const tests = fs
  .readdirSync('test')
  .filter((f) => f.endsWith('.test.js'))
  .sort()
  .map((f) => path.join('test', f));
fs.rmSync('coverage', { recursive: true, force: true });
fs.mkdirSync('coverage');
spawnSync(
  process.execPath,
  [
    '--test',
    '--experimental-test-coverage',
    '--test-reporter=lcov',
    '--test-reporter-destination=coverage/all.lcov',
    '--test-reporter=junit',
    '--test-reporter-destination=coverage/junit.xml',
    '--test-reporter=dot',
    '--test-reporter-destination=stdout',
    ...tests,
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
if (!fs.existsSync('coverage/all.lcov')) {
  console.error('no coverage report was written (coverage/all.lcov)');
  process.exit(1);
}

// Keep the records of src/ only: the tests cover themselves fully and would inflate the total
// (Node 20's runner has no coverage include/exclude flags).
const records = fs
  .readFileSync('coverage/all.lcov', 'utf8')
  .split('end_of_record')
  .filter((r) => {
    const file = /^SF:(.*)$/m.exec(r)?.[1];
    return file !== undefined && path.relative(process.cwd(), path.resolve(file)).startsWith(`src${path.sep}`);
  });
const total = (key) => records.reduce((sum, r) => sum + Number(new RegExp(`^${key}:(\\d+)$`, 'm').exec(r)?.[1] ?? 0), 0);
const found = total('LF');
const hit = total('LH');
if (found === 0) {
  console.error('the coverage report has no lines of src/');
  process.exit(1);
}
fs.writeFileSync('coverage/lcov.info', records.map((r) => `${r.trim()}\nend_of_record\n`).join(''));
const pct = (100 * hit) / found;
console.log(`line coverage of src/: ${pct.toFixed(2)}% (${hit}/${found} lines), written to coverage/lcov.info`);
