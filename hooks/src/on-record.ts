// PostToolUse and UserPromptExpansion: record which session drives the loop.
import { badInput, type Handler } from './main.ts';
import { postToolUseDecision, promptExpansionDecision } from './post-tool-use.ts';
import { PostToolUseInput, PromptExpansionInput } from './schema.ts';
import { readActive, updateSession } from './state.ts';

export const handleRecord: Handler = (event, raw, f) => {
  if (event === 'prompt-expansion') {
    const input = PromptExpansionInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    if (!readActive(f)) return true;
    updateSession(f, (s) => promptExpansionDecision(input.data.command_name, s, input.data, process.env), (next) => next);
    return true;
  }
  if (event === 'post-tool-use') {
    const input = PostToolUseInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    const active = readActive(f);
    if (!active) return true;
    updateSession(f, (s) => postToolUseDecision(input.data, active, s, f.projectDir, process.env), (next) => next);
    return true;
  }
  return false;
};
