// The branches in a file, read from the TypeScript compiler's syntax tree (as
// function-lengths.ts): each if, ?:, switch, loop, try, throw, and each &&, ||
// or ?? (a short-circuit is a branch too), with the line it is on. A
// short-circuit inside an if's condition belongs to that if and is not counted.
import { SyntaxKind, type Node } from 'typescript/unstable/ast';
import { forEachSourceFile } from './ts-files.ts';

export interface Branch {
  file: string;
  kind: string;
  line: number;
}

const BRANCHES: ReadonlyMap<SyntaxKind, string> = new Map([
  [SyntaxKind.IfStatement, 'if'],
  [SyntaxKind.ConditionalExpression, '?:'],
  [SyntaxKind.SwitchStatement, 'switch'],
  [SyntaxKind.ForStatement, 'for'],
  [SyntaxKind.ForOfStatement, 'for'],
  [SyntaxKind.ForInStatement, 'for'],
  [SyntaxKind.WhileStatement, 'while'],
  [SyntaxKind.DoStatement, 'do'],
  [SyntaxKind.TryStatement, 'try'],
  [SyntaxKind.ThrowStatement, 'throw'],
]);
const SHORT_CIRCUITS: ReadonlyMap<SyntaxKind, string> = new Map([
  [SyntaxKind.AmpersandAmpersandToken, '&&'],
  [SyntaxKind.BarBarToken, '||'],
  [SyntaxKind.QuestionQuestionToken, '??'],
]);

/** Every branch of `files` (relative to root). */
export function branchesIn(root: string, files: readonly string[]): Branch[] {
  const out: Branch[] = [];
  forEachSourceFile(root, files, (file, sf) => {
    const text = sf.text;
    const line = (n: Node) => sf.getLineAndCharacterOfPosition(n.pos + (text.slice(n.pos, n.end).length - text.slice(n.pos, n.end).trimStart().length)).line + 1;
    const visit = (n: Node, inCondition: boolean): void => {
      const kind = BRANCHES.get(n.kind);
      if (kind) out.push({ file, kind, line: line(n) });
      if (n.kind === SyntaxKind.BinaryExpression && !inCondition) {
        const op = SHORT_CIRCUITS.get((n as unknown as { operatorToken: Node }).operatorToken.kind);
        if (op) out.push({ file, kind: op, line: line(n) });
      }
      const condition = n.kind === SyntaxKind.IfStatement ? (n as unknown as { expression: Node }).expression : null;
      n.forEachChild((c) => visit(c, inCondition || c === condition));
    };
    sf.forEachChild((c) => visit(c, false));
  });
  return out;
}
