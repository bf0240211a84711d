/**
 * What every `seglog` subcommand shares: exit codes, the one-line error report, and the wrapper
 * that turns a subcommand's result into the process's exit code.
 *
 * A subcommand lives in its own file (`dump.ts`, `verify.ts`, …) and exports a {@link Subcommand}:
 * a `register(program)` that adds its command to the program and gives it an action built with
 * {@link action}. `seglog.ts` lists the subcommands; nothing else needs to know about them.
 *
 * Exit codes, as bbolt's and fsck's:
 *
 * | code | meaning                                                                   |
 * |------|---------------------------------------------------------------------------|
 * | 0    | done, nothing wrong found                                                 |
 * | 1    | done, problems found in the data (invalid bytes, corrupt records, …)      |
 * | 2    | usage error, or an operating error (cannot open, read or write a file)    |
 */
import type { Command } from 'commander'
import { SeglogError } from '../src/errors.js'
import { OutputClosedError } from './output.js'

export const EXIT_OK = 0
export const EXIT_PROBLEMS = 1
export const EXIT_ERROR = 2

/** A subcommand module: `seglog.ts` calls `register` once per module it lists. */
export interface Subcommand {
  register(program: Command): void
}

/**
 * An operating error the user can act on (missing file, unknown file type, …): reported as one
 * line, `seglog <command>: <message>`, without a stack trace, and exits 2.
 */
export class CliError extends Error {
  override name = 'CliError'
}

let exitCode = EXIT_OK

/** The exit code the last action asked for; read by `seglog.ts` after parsing. */
export function lastExitCode(): number {
  return exitCode
}

/** Record `code` as the exit code unless a worse one was recorded already. */
export function raiseExitCode(code: number): void {
  if (code > exitCode) exitCode = code
}

function isErrnoException(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).syscall !== undefined
}

/** True for errors the environment or the data caused, as opposed to bugs in seglog. */
export function isOperatingError(err: unknown): boolean {
  return err instanceof CliError || err instanceof SeglogError || isErrnoException(err)
}

/**
 * One line describing an operating error. Node's errno messages end in `, open 'file'`, which the
 * caller already says better ("cannot open 'file': …"), so that suffix is dropped.
 */
export function describeError(err: unknown): string {
  if (isErrnoException(err)) {
    const message = err.message.replace(/, [a-z_]+ '.*'$/s, '')
    if (err.code === 'ELOOP') return 'ELOOP: it is a symbolic link, which seglog does not follow'
    return message
  }
  if (err instanceof Error) return err.message
  return String(err)
}

/** Print `seglog <command>: <message>` on stderr; bugs also get their stack, for the bug report. */
export function reportError(command: string | undefined, err: unknown): void {
  const prefix = command === undefined ? 'seglog' : `seglog ${command}`
  if (isOperatingError(err) || !(err instanceof Error)) process.stderr.write(`${prefix}: ${describeError(err)}\n`)
  else process.stderr.write(`${prefix}: internal error, please report it: ${err.stack ?? err.message}\n`)
}

/**
 * Wrap a subcommand's action. `run` returns the exit code; a thrown error is reported as one line
 * and exits 2; a reader that went away (`seglog dump … | head`) ends the command quietly.
 *
 * @example
 * ```ts
 * program.command('dump').argument('<file...>').action(action('dump', async (files: string[], opts: DumpOptions) => dump(files, opts)))
 * ```
 */
// Commander passes the arguments, then the options, then the command: their types are the caller's.
export function action<Args extends unknown[]>(command: string, run: (...args: Args) => Promise<number>): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      raiseExitCode(await run(...args))
    } catch (err) {
      if (err instanceof OutputClosedError) return
      reportError(command, err)
      raiseExitCode(EXIT_ERROR)
    }
  }
}
