// PostToolUse and UserPromptExpansion: record which session drives the loop.
import { badInput, type Handler } from './main.ts';
import { postToolUseDecision, promptExpansionDecision } from './post-tool-use.ts';
import { PostToolUseInput, PromptExpansionInput } from './schema.ts';
import { readActive, readSession, writeSession } from './state.ts';

export const handleRecord: Handler = (event, raw, f) => {
  if (event === 'prompt-expansion') {
    const input = PromptExpansionInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    if (!readActive(f)) return true;
    const next = promptExpansionDecision(input.data.command_name, readSession(f), input.data, process.env);
    if (next) writeSession(f, next);
    return true;
  }
  if (event === 'post-tool-use') {
    const input = PostToolUseInput.safeParse(raw);
    if (!input.success) return (badInput(event), true);
    const active = readActive(f);
    if (!active) return true;
    const next = postToolUseDecision(input.data, active, readSession(f), f.projectDir, process.env);
    if (next) writeSession(f, next);
    return true;
  }
  return false;
};
