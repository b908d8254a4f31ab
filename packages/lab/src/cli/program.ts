/**
 * The command line of every script users run (`npm run consistency`, `demo:*`, `stats`, `bench`):
 * a commander program with generated `--help`, and value parsers that all follow one rule. A user
 * error is one line on stderr — the option, what was given, what is accepted — and exit status 2;
 * `--help` exits 0.
 */
import { Command, type ErrorOptions, InvalidArgumentError } from '@commander-js/extra-typings';
import { type DurationRange, parseDuration } from './duration.ts';

/** Exit status of a command-line error (wrong option, value or combination). */
export const USAGE_ERROR_EXIT_CODE = 2;

/**
 * A commander command whose "unknown option" error lists the options it accepts, and whose
 * "unknown command" error its commands; its subcommands (`.command()`) are of this kind too.
 */
class LabCommand extends Command {
  override createCommand(name?: string): Command {
    return new LabCommand(name);
  }

  override error(message: string, options?: ErrorOptions): never {
    const help = this.createHelp();
    let accepted: string[] = [];
    if (options?.code === 'commander.unknownOption') {
      accepted = help.visibleOptions(this).map((option) => option.long ?? option.short ?? '');
    } else if (options?.code === 'commander.unknownCommand') {
      accepted = help.visibleCommands(this).map((command) => command.name());
    }
    const list = accepted.filter(Boolean).join(', ');
    return super.error(list === '' ? message : `${message}; accepted: ${list}`, options);
  }
}

/**
 * A commander program named `name` (as the user types it, e.g. `demo:warmup`) whose errors are one
 * line prefixed with that name and exit with {@link USAGE_ERROR_EXIT_CODE}; an unknown option or
 * command is told what is accepted. Subcommands created with `.command()` afterwards inherit all three.
 */
export function createProgram(name: string): Command {
  return new LabCommand(name)
    .helpOption('-h, --help', 'show this help')
    .configureOutput({
      // Commander puts "(Did you mean …?)" on a line of its own: keep the error on one line.
      outputError: (text, write) =>
        write(
          `${name}: ${text
            .replace(/^error: /, '')
            .trim()
            .replace(/\s*\n\s*/g, ' ')}\n`,
        ),
    })
    .exitOverride((error) => {
      // Commander's own parse errors exit 1; ours (`command.error`) say their status themselves.
      if (error.code === 'commander.error') process.exit(error.exitCode);
      process.exit(error.exitCode === 0 ? 0 : USAGE_ERROR_EXIT_CODE);
    });
}

/**
 * Stops the program with a one-line error (exit 2), for what only shows once the options are read
 * (two options that do not go together, a fault that needs a cluster).
 */
export function usageError(program: Pick<Command, 'error'>, message: string): never {
  program.error(message, { exitCode: USAGE_ERROR_EXIT_CODE });
  // `error` exits; this line only satisfies the type checker.
  throw new Error(message);
}

/** A parser for a duration option, in milliseconds (see `duration.ts` for the rule). */
export function duration(range: DurationRange = {}): (text: string) => number {
  return (text) => {
    try {
      return parseDuration(text, range);
    } catch (error) {
      const message = (error as Error).message;
      throw new InvalidArgumentError(sentence(message.charAt(0).toUpperCase() + message.slice(1)));
    }
  };
}

/** A parser for an integer option within [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isSafeInteger(value) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`Accepted: an integer ${range}.`);
    }
    return value;
  };
}

/** A parser for a number option within [min, max] (a ratio, an exponent). */
export function decimal(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
      throw new InvalidArgumentError(`Accepted: a number from ${min} to ${max}.`);
    }
    return value;
  };
}

/** A parser for a comma-separated list whose every item is one of `choices`. */
export function listOf(choices: readonly string[]): (text: string) => string[] {
  return (text) => {
    const items = text.split(',').map((item) => item.trim());
    const unknown = items.filter((item) => !choices.includes(item));
    if (unknown.length > 0 || items.length === 0) {
      throw new InvalidArgumentError(`Accepted: a comma-separated list of ${choices.join(', ')}.`);
    }
    return items;
  };
}

/** A parser for `--urls a,b,c`: http(s) URLs, trailing slashes dropped. */
export function urlList(text: string): string[] {
  const urls = text.split(',').map((url) => url.trim().replace(/\/+$/, ''));
  for (const url of urls) {
    if (!URL.canParse(url) || !['http:', 'https:'].includes(new URL(url).protocol)) {
      throw new InvalidArgumentError(
        `"${url}" is not an http:// URL; accepted: URLs like http://127.0.0.1:3001, comma-separated.`,
      );
    }
  }
  return urls;
}

/** A parser for a Redis URL (`redis://` or `rediss://`). */
export function redisUrl(text: string): string {
  if (!URL.canParse(text) || !['redis:', 'rediss:'].includes(new URL(text).protocol)) {
    throw new InvalidArgumentError('Accepted: a URL like redis://127.0.0.1:6379.');
  }
  return text;
}

/** Collects a repeatable option's values (`--fault A --fault B`), each through `parse`. */
export function repeatable<T>(parse: (text: string) => T): (text: string, previous: T[]) => T[] {
  return (text, previous) => [...previous, parse(text)];
}

/** `message` ending with a full stop, as commander's own messages do. */
export function sentence(message: string): string {
  return message.endsWith('.') ? message : `${message}.`;
}
