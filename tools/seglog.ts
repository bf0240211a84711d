#!/usr/bin/env node
/**
 * The `seglog` command line: dump, verify and repair seglog (and Kafka) segment files.
 *
 * Each subcommand lives in its own file and exports `register(program)` (see cli.ts); add a new
 * one to {@link SUBCOMMANDS}. Usage errors (unknown option, missing argument, unknown command)
 * exit 2, as operating errors do; `--help` and `--version` exit 0.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, CommanderError } from 'commander'
import { EXIT_ERROR, EXIT_OK, lastExitCode, reportError, type Subcommand } from './cli.js'
import * as dump from './dump.js'
import * as recover from './recover.js'
import * as verify from './verify.js'
import * as produce from './produce.js'
import * as consume from './consume.js'
import * as tail from './tail.js'
import * as stats from './stats.js'
import * as compact from './compact.js'
import * as bench from './bench.js'

/** The subcommands, in the order `seglog --help` lists them. */
const SUBCOMMANDS: readonly Subcommand[] = [dump, verify, recover, compact, stats, produce, consume, tail, bench]

/**
 * The version in package.json. Looked up from this file's folder upwards, because the file runs
 * both from `dist/tools/` (built) and from `tools/` (tests running the source).
 */
function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let depth = 0; depth < 4; depth++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown }
      if (pkg.name === 'seglog' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // Not here (or unreadable): look one folder up.
    }
    dir = path.dirname(dir)
  }
  return 'unknown'
}

function createProgram(): Command {
  const program = new Command('seglog')
    .description('Produce, consume, inspect, verify and repair seglog logs: Kafka-format (RecordBatch v2) segments and their indexes.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .exitOverride() // commander exits 1 on a usage error; seglog's usage errors exit 2 (see run)
  program.addHelpText('after', '\nExit status: 0 ok, 1 problems found, 2 usage or I/O error.')
  for (const subcommand of SUBCOMMANDS) subcommand.register(program)
  // Subcommands copy the program's output settings when created, so this is set on each one after
  // registration: a usage error is one line naming the subcommand and where to find its usage
  // ("seglog dump: missing required argument 'file' (see 'seglog dump --help')").
  for (const command of [program, ...program.commands]) {
    const name = command === program ? 'seglog' : `seglog ${command.name()}`
    command.configureOutput({
      outputError: (text, write) => write(`${name}: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (see '${name} --help')\n`),
    })
  }
  return program
}

/** Run the CLI on `argv` (as `process.argv`); resolves to the exit code. */
async function run(argv: readonly string[]): Promise<number> {
  const program = createProgram()
  try {
    await program.parseAsync([...argv])
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_ERROR
    reportError(program.args[0], err)
    return EXIT_ERROR
  }
  return lastExitCode()
}

// A reader that went away (`seglog --help | head -1`) must not crash the process with an
// unhandled 'error' event and a stack trace. Commands' own output goes through LineWriter, which
// turns EPIPE into a quiet stop and other write errors into exit code 2.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') return
  reportError(undefined, err)
  process.exitCode = EXIT_ERROR
})
process.stderr.on('error', () => {})
process.exitCode = await run(process.argv)
