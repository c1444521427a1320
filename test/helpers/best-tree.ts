// Shared by the tests of the best's own tree (best-tree.ts): a noisy benchmark
// (CV 3%, so that the best is measured beside the candidate) and where the tree is.
import fs from 'node:fs';
import path from 'node:path';

/** node bench.js: requires src/prog.js (the code under test), prints src/v with 3% noise; `preamble` runs first. */
export const noisyBench = (preamble = '') => `const fs = require('fs');
${preamble}require('./src/prog.js');
const v = Number(fs.readFileSync('src/v', 'utf8'));
const u = 1 - Math.random(), w = Math.random();
console.log('METRIC score=' + v * (1 + 0.03 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w)));
`;

export const EXP = '.autoloop/experiments/exp';

/** The current best's tree (best/<tree>/, named in best.json). */
export const bestTree = (root: string) => path.join(root, EXP, 'best', JSON.parse(fs.readFileSync(path.join(root, EXP, 'best.json'), 'utf8')).tree);
