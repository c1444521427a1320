// The specifiers a Node judge imports, and the files Node would load ahead of what it found.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { importSpecifiers, nodeShadows, packageName } from '../scripts/lib/node-shadows.ts';
import { tmpDir } from './helpers/tmp.ts';

function tree(files: Record<string, string>): string {
  const root = tmpDir('autoloop-node-');
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

describe('importSpecifiers and packageName', () => {
  it('takes require, import, dynamic import and re-export specifiers', () => {
    const text = "const a = require('./a');\nimport b from \"pkg/sub\";\nimport './side.js';\nexport { c } from '@s/p';\nawait import('dyn');\nconst s = 'require(x)';\n";
    expect(importSpecifiers(text).sort()).toEqual(['./a', './side.js', '@s/p', 'dyn', 'pkg/sub']);
  });

  it('names the package of a bare specifier, none for a builtin, a path or a # import', () => {
    expect(['pkg/sub', '@s/p/x', 'fs', 'fs/promises', 'node:fs', './a', '#x', '/abs'].map(packageName)).toEqual(['pkg', '@s/p', null, null, null, null, null, null]);
  });
});

describe('nodeShadows', () => {
  it('names the tries ahead of a relative import found', () => {
    const root = tree({ 'package.json': '{}', 'bench/bench.js': "require('./lib'); require('./util.js'); require('fs');\n", 'bench/lib/index.js': '', 'bench/util.js': '' });
    const { absent, present } = nodeShadows(root, 'bench/bench.js');
    // No bare or # import: a package.json written beside it would map nothing the judge loads.
    expect(absent).toEqual(['bench/lib.js', 'bench/lib.json', 'bench/lib.node', 'bench/lib/package.json']);
    expect(present).toEqual([]);
  });

  it('for a bare import, names each package.json level and each node_modules level closer than the installed package, and the package and its entry', () => {
    const root = tree({ 'package.json': '{}', 'a/b/j.mjs': "import x from 'pkg';\n", 'node_modules/pkg/package.json': '{"main": "m.js"}', 'node_modules/pkg/m.js': '' });
    const { absent, present } = nodeShadows(root, 'a/b/j.mjs');
    // Nearer package.json files: one with `name: "pkg"` and `exports` would answer the import first.
    expect(absent.filter((a) => a.endsWith('package.json') && !a.includes('node_modules'))).toEqual(['a/b/package.json', 'a/package.json']);
    expect(absent).toContain('a/b/node_modules/pkg/package.json');
    expect(absent).toContain('a/node_modules/pkg.js');
    expect(absent).not.toContain('node_modules/pkg/package.json');
    expect(present).toEqual(['node_modules/pkg/package.json', 'node_modules/pkg/m.js']);
  });

  it('names nothing for a judge not in JavaScript, nor outside the repository', () => {
    const root = tree({ 'bench.sh': "require('./lib')\n", 'sub/j.js': "require('../../outside')\n", 'sub/package.json': '{}' });
    expect(nodeShadows(root, 'bench.sh')).toEqual({ absent: [], present: [], local: [] });
    expect(nodeShadows(root, 'sub/j.js')).toEqual({ absent: [], present: [], local: [] });
    expect(nodeShadows(root, 'absent.js')).toEqual({ absent: [], present: [], local: [] });
  });
});
