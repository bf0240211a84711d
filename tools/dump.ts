/**
 * `seglog dump FILE...`: print the contents of segment (`.log`), offset index (`.index`) and time
 * index (`.timeindex`) files, chosen by extension. See dump-log.ts and dump-index.ts.
 *
 * Exit code: 0 when every file was read whole; 1 when a file has invalid bytes or a batch's
 * records could not be read (corrupt, or compressed with a codec seglog does not read); 2 when a
 * file cannot be opened or read, or is of no known type. Every file is dumped even after a failure.
 */
import { InvalidArgumentError, Option, type Command } from 'commander'
import { MAX_BATCH_BYTES_DEFAULT } from '../src/segment/index.js'
import { action, CliError, EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, reportError } from './cli.js'
import { dumpIndex } from './dump-index.js'
import { dumpLog } from './dump-log.js'
import { closeInputFile, openInputFile } from './input-file.js'
import { LineWriter } from './output.js'
import { VALUE_ENCODINGS, type ValueEncoding } from './value-encoding.js'

/** Options as commander gives them: flags not given are absent. */
export interface DumpOptions {
  json?: boolean
  records?: boolean
  values: ValueEncoding
  maxBatchBytes: number
}

type FileKind = 'log' | 'index' | 'timeindex'

/**
 * The kind of a file from its extension. Files being cleaned or deleted keep their kind under an
 * extra suffix (`.log.cleaned`, `.log.swap`, `.index.deleted`), so those are recognised too.
 */
export function fileKindOf(file: string): FileKind | undefined {
  const name = file.replace(/\.(cleaned|swap|deleted)$/, '')
  if (name.endsWith('.log')) return 'log'
  if (name.endsWith('.timeindex')) return 'timeindex'
  if (name.endsWith('.index')) return 'index'
  return undefined
}

export async function dump(files: readonly string[], options: DumpOptions): Promise<number> {
  const out = new LineWriter(process.stdout)
  let exitCode = EXIT_OK
  for (const file of files) {
    try {
      const kind = fileKindOf(file)
      if (kind === undefined) throw new CliError(`cannot dump '${file}': unknown file type (expected .log, .index or .timeindex)`)
      const input = openInputFile(file)
      try {
        const fileOptions = { json: options.json === true, records: options.records === true, values: options.values, maxBatchBytes: options.maxBatchBytes, header: true }
        const problems = kind === 'log' ? await dumpLog(input, out, fileOptions) : await dumpIndex(input, kind, out, fileOptions)
        if (problems > 0) exitCode = Math.max(exitCode, EXIT_PROBLEMS)
      } finally {
        closeInputFile(input)
      }
    } catch (err) {
      if (!(err instanceof CliError)) throw err
      await out.flush() // so that the message comes after what was printed for earlier files
      reportError('dump', err)
      exitCode = EXIT_ERROR
    }
  }
  await out.flush()
  return exitCode
}

function parseBytes(text: string): number {
  const bytes = Number(text)
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InvalidArgumentError('expected a positive integer number of bytes')
  return bytes
}

export function register(program: Command): void {
  program
    .command('dump')
    .description('print the batches and records of .log files and the entries of .index and .timeindex files')
    .argument('<file...>', 'segment (.log), offset index (.index) or time index (.timeindex) files')
    .option('--records', 'also print every record (offset, timestamp, key, value, headers)')
    .addOption(
      new Option('--values <encoding>', 'how keys, values and header values are printed; none prints sizes only')
        .choices(VALUE_ENCODINGS)
        .default('utf8'),
    )
    .option('--json', 'print NDJSON: one object per batch (with "records" when --records) or index entry')
    .option('--max-batch-bytes <bytes>', 'largest batch accepted as valid', parseBytes, MAX_BATCH_BYTES_DEFAULT)
    .addHelpText(
      'after',
      `
Batches are checked (bounds, magic, CRC-32C) as they are read; the dump stops at the first invalid
batch and reports the bytes from there ("found N invalid bytes at the end of FILE"): on stderr, or
with --json as a line {"file", "invalidBytes", "position", "problem", "message"}. With --records, a
batch whose records cannot be read (corrupt, or compressed with snappy, lz4 or zstd) is still
listed, with an error line (--json: "recordsError": {"code", "message"}) instead of its records.
Index files end in zeros until trimmed; those are reported as "N zero-filled bytes at the end".

Exit status: 0 all read, 1 invalid bytes or unreadable records found, 2 usage or I/O error.

Examples:
  seglog dump 00000000000000000000.log
  seglog dump --records --values hex 00000000000000000000.log
  seglog dump --json --records 00000000000000000000.log | jq .records
  seglog dump 00000000000000000000.index 00000000000000000000.timeindex`,
    )
    .action(action('dump', (files: string[], options: DumpOptions) => dump(files, options)))
}
