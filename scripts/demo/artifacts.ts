// The demo's artifact checks, read from the files themselves: does the tree
// hold the same bytes as the copy the engine kept under a run's folder?
import fs from 'node:fs';
import path from 'node:path';
import { artifactsDir, experimentPaths } from '../lib/paths.ts';

/** Files below dir, repo-relative with forward slashes, sorted. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((d) => d.isFile())
    .map((d) => path.relative(dir, path.join(d.parentPath, d.name)).split(path.sep).join('/'))
    .sort();
}

export interface CopyComparison {
  /** The run's kept copy, repo-relative (`.autoloop/experiments/<slug>/runs/<id>/artifacts`). */
  dir: string;
  /** The files of the copy; empty when the engine kept none. */
  files: string[];
  /** Files of the copy whose bytes the tree does not hold (missing or different). */
  differing: string[];
}

/** Compare the tree with the artifacts the engine kept for one run. */
export function compareWithCopy(repo: string, experiment: string, runId: string): CopyComparison {
  const abs = artifactsDir(experimentPaths(repo, experiment), runId);
  const files = filesUnder(abs);
  const differing = files.filter((f) => {
    const inTree = path.join(repo, f);
    return !fs.existsSync(inTree) || !fs.readFileSync(inTree).equals(fs.readFileSync(path.join(abs, f)));
  });
  return { dir: path.relative(repo, abs).split(path.sep).join('/'), files, differing };
}

const BEST_LINE = /\*\*Best artifacts:\*\* `([^`]+?)\/?` \((r\d+)/;

/** Where the report says the best's artifacts are: { dir, run } or null when it does not say. */
export function reportedBestArtifacts(markdown: string): { dir: string; run: string; line: string } | null {
  const m = BEST_LINE.exec(markdown);
  if (!m) return null;
  const line = markdown.split('\n').find((l) => l.includes('**Best artifacts:**')) ?? '';
  return { dir: m[1] as string, run: m[2] as string, line: line.replace(/^- /, '').replace(/\*\*/g, '').replace(/`/g, '') };
}
