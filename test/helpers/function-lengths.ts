// Lines per function, read from the TypeScript compiler's own syntax tree
// (TypeScript 7's API: the native compiler parses, this process walks the tree).
// A function's length runs from the line of its first token to the line of its
// last: its comments above it do not count, its body does, nested functions included.
import { SyntaxKind, type Node } from 'typescript/unstable/ast';
import { forEachSourceFile } from './ts-files.ts';

export interface FunctionLength {
  file: string;
  name: string;
  lines: number;
}

const FUNCTIONS: ReadonlySet<SyntaxKind> = new Set([
  SyntaxKind.FunctionDeclaration,
  SyntaxKind.FunctionExpression,
  SyntaxKind.ArrowFunction,
  SyntaxKind.MethodDeclaration,
  SyntaxKind.Constructor,
  SyntaxKind.GetAccessor,
  SyntaxKind.SetAccessor,
]);

/** A readable name: the declaration's own, else the variable, property or call it is assigned or passed to. */
function nameOf(n: Node, text: string): string {
  const own = (n as { name?: Node }).name;
  if (own) return text.slice(own.pos, own.end).trim();
  const p = n.parent as (Node & { name?: Node; expression?: Node }) | undefined;
  if (p?.name) return text.slice(p.name.pos, p.name.end).trim();
  if (p?.kind === SyntaxKind.CallExpression && p.expression) return `(callback of ${text.slice(p.expression.pos, p.expression.end).trim()})`;
  return '(anonymous)';
}

/** Every function of `files` (relative to root) with its length in lines. */
export function functionLengths(root: string, files: readonly string[]): FunctionLength[] {
  const out: FunctionLength[] = [];
  forEachSourceFile(root, files, (file, sf) => {
    const text = sf.text;
    const line = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line;
    const visit = (n: Node): void => {
      if (FUNCTIONS.has(n.kind)) {
        // pos includes the leading trivia (comments): start at the first token.
        const start = n.pos + (text.slice(n.pos, n.end).length - text.slice(n.pos, n.end).replace(/^(\s|\/\/[^\n]*|\/\*[\s\S]*?\*\/)*/, '').length);
        out.push({ file, name: nameOf(n, text), lines: line(n.end) - line(start) + 1 });
      }
      n.forEachChild(visit);
    };
    sf.forEachChild(visit);
  });
  return out;
}
