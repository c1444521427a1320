// The modules a Python judge imports, and the files that would take their place beside it.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { importedModules, pythonShadows } from '../scripts/lib/py-shadows.ts';
import { tmpDir } from './helpers/tmp.ts';

describe('importedModules', () => {
  it('takes the top-level name of each absolute import, and no relative one', () => {
    const text = 'import json, os.path as p\nfrom collections.abc import Mapping\n  import re  # indented\nfrom . import sibling\nfrom .x import y\nx = "import fake"\n# import commented\n';
    expect(importedModules(text).sort()).toEqual(['collections', 'json', 'os', 're']);
  });
});

describe('pythonShadows', () => {
  it('names nothing for a module built into the interpreter (found before any folder on the path)', () => {
    const root = tmpDir('py-shadows-');
    fs.writeFileSync(path.join(root, 'judge.py'), 'import sys, builtins\nimport json\n');
    const shadows = pythonShadows(root, 'judge.py');
    expect(shadows).toContain('json.py');
    expect(shadows.filter((f) => /^(sys|builtins)[./]/.test(f))).toEqual([]);
  });

  it('names each form a missing module could take beside the judge, none for a module there or a judge not in Python', () => {
    const root = tmpDir('autoloop-py-');
    fs.mkdirSync(path.join(root, 'eval'));
    fs.writeFileSync(path.join(root, 'eval/score.py'), 'import json\nimport helper\n');
    fs.writeFileSync(path.join(root, 'eval/helper.py'), '');
    fs.writeFileSync(path.join(root, 'run'), '#!/usr/bin/env python3\nimport csv\n');
    fs.writeFileSync(path.join(root, 'bench.sh'), 'import json\n');
    expect(pythonShadows(root, 'eval/score.py')).toEqual(['.py', '.pyc', '.so', '.abi3.so', '/__init__.py', '/__init__.pyc'].map((f) => `eval/json${f}`));
    expect(pythonShadows(root, 'run')).toContain('csv.py');
    expect(pythonShadows(root, 'bench.sh')).toEqual([]);
    expect(pythonShadows(root, 'absent.py')).toEqual([]);
  });
});
