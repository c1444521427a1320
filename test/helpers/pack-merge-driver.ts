// Merges the loop's packs of the repository argv[2] (at 3 of them), in a process of its own so that a
// test can kill it at one of pack-merge.ts's crash points (AUTOLOOP_CRASH_AT).
import path from 'node:path';
import { mergeLoopPacks } from '../../scripts/lib/pack-merge.ts';

const repo = process.argv[2]!;
process.stdout.write(`${await mergeLoopPacks(repo, repo, path.join(repo, '.git/objects'), 3)}\n`);
