// Hooks in the fake: no shell, but a tiny interpreter for the few commands tests write, so the
// same conformance tests (a hook that fails with a code, a hook that writes a file into the
// volume) run against the fake and the real runtimes. Anything else fails loudly (exit 127)
// rather than passing silently. Tests that need more inject their own FakeHookRunner.
import { readFileSync } from 'node:fs';
import type { HookSpec } from '../../domain/notebook.ts';

export type FakeHookPhase = 'pre_start' | 'post_start';
export interface FakeHookResult {
  exitCode: number;
  output: string;
}
/** Runs a hook against an instance's in-memory volume. */
export type FakeHookRunner = (phase: FakeHookPhase, hook: HookSpec, files: Map<string, string>) => Promise<FakeHookResult> | FakeHookResult;

function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t.at(-1) === t[0]) return t.slice(1, -1);
  return t;
}

/**
 * Understands, one per line or separated by ';': `true`, `:`, `false`, `exit N`,
 * `echo TEXT`, `printf TEXT` (with \n escapes), each optionally followed by `> FILE` or `>> FILE`
 * (relative to the volume). No quoting of ';' or '>' inside TEXT.
 */
export function interpretScript(script: string, files: Map<string, string>): FakeHookResult {
  let output = '';
  for (const raw of script.split(/[\n;]/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line === 'true' || line === ':') continue;
    if (line === 'false') return { exitCode: 1, output };
    const exit = /^exit(?:\s+(\d+))?$/.exec(line);
    if (exit) return { exitCode: Number(exit[1] ?? 0), output };
    const say = /^(echo|printf)\s*(.*?)\s*(?:(>>?)\s*(\S+))?$/.exec(line);
    if (!say) return { exitCode: 127, output: `${output}fake hook: unsupported command: ${line}\n` };
    const [, verb, args = '', redirect, target] = say;
    const text = verb === 'echo' ? `${unquote(args)}\n` : unquote(args).replace(/\\n/g, '\n');
    if (!redirect || !target) {
      output += text;
      continue;
    }
    const path = target.replace(/^(\.\/)+/, '');
    files.set(path, redirect === '>>' ? (files.get(path) ?? '') + text : text);
  }
  return { exitCode: 0, output };
}

export const defaultFakeHookRunner: FakeHookRunner = (_phase, hook, files) => {
  if (hook.type === 'COMMAND') {
    const script = Buffer.from(hook.script, 'base64').toString('utf8');
    if (!script.trim()) return { exitCode: 2, output: 'hook COMMAND script must be a non-empty base64-encoded shell script\n' };
    return interpretScript(script, files);
  }
  // SCRIPT: an absolute path on this host, interpreted the same way.
  if (!hook.script.startsWith('/')) return { exitCode: 2, output: `hook SCRIPT path must be absolute: ${hook.script}\n` };
  let text: string;
  try {
    text = readFileSync(hook.script, 'utf8');
  } catch {
    return { exitCode: 127, output: `hook script ${hook.script} does not exist\n` };
  }
  return interpretScript(text.replace(/^#!.*\n/, ''), files);
};
