import { ensureClaude } from './claude-cli.ts';

// Install the pinned CLI once before any test file runs (it is ~400 MB).
export default function setup(): void {
  ensureClaude();
}
