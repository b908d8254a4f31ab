import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** An adapter as registered in protocol/adapters.json. */
export interface AdapterSpec {
  /** The program and its arguments, run without a shell. */
  command: string[];
  /** Working directory, relative to the repository root. */
  cwd: string;
  /** Programs that must be on PATH to run it; default: the command's program. */
  requires?: string[];
}

/** Reads protocol/adapters.json under `root`; throws naming the entry that is not an adapter. */
export function loadAdapters(root: string): Record<string, AdapterSpec> {
  const path = join(root, 'protocol', 'adapters.json');
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Partial<AdapterSpec>>;
  const adapters: Record<string, AdapterSpec> = {};
  for (const [name, spec] of Object.entries(raw)) {
    const { command, cwd = '.', requires } = spec ?? {};
    if (!Array.isArray(command) || command.length === 0 || !command.every(isText)) {
      throw new TypeError(`${path}: "${name}".command must be a non-empty list of strings`);
    }
    if (requires !== undefined && !(Array.isArray(requires) && requires.every(isText))) {
      throw new TypeError(`${path}: "${name}".requires must be a list of program names`);
    }
    adapters[name] = { command, cwd, ...(requires ? { requires } : {}) };
  }
  return adapters;
}

/** The first program `spec` needs that is not on PATH, or `undefined` when all are there. */
export function missingProgram(spec: AdapterSpec, root: string): string | undefined {
  const programs = spec.requires ?? [spec.command[0] as string];
  return programs.find((program) => !findProgram(program, join(root, spec.cwd)));
}

function findProgram(program: string, cwd: string): boolean {
  const candidates = program.includes('/')
    ? [isAbsolute(program) ? program : join(cwd, program)]
    : (process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, program));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
