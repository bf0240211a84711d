/**
 * `seglog recover DIR`: run recovery on every partition under DIR, as opening it after a crash
 * would, but over every segment and with repair on: torn tails cut, damaged ranges dropped with the
 * valid batches after them kept (their offsets reported lost), indexes rebuilt. `--dry-run` says
 * what it would do and changes nothing (no lock is taken, no file opened for writing).
 *
 * The work is `Partition.recover` (src/partition/recovery.ts holds the torn-vs-corrupt rule); this
 * file finds the partitions and prints the reports. A partition a writer holds open is left
 * alone, reported, and makes the exit code 2.
 *
 * Exit code: 0 every partition recovered (or, dry, checked); 2 usage error, a partition locked by
 * a writer, or an I/O error (the other partitions are still recovered).
 */
import path from 'node:path'
import type { Command } from 'commander'
import { LockedError, SeglogError } from '../src/errors.js'
import { DEFAULTS, Partition, type RecoveryReport } from '../src/partition/index.js'
import { MAX_BATCH_BYTES_DEFAULT } from '../src/segment/index.js'
import { action, CliError, EXIT_ERROR, EXIT_OK, isOperatingError, reportError } from './cli.js'
import { LineWriter } from './output.js'
import { parseBytes } from './verify.js'
import { classifyPath, walkFolder, type PartitionFolder } from './walk.js'

/** Options as commander gives them: flags not given are absent. */
export interface RecoverOptions {
  dryRun?: boolean
  json?: boolean
  maxBatchBytes: number
  maxUnsyncedBytes: number
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`
}

/** The report as lines of text, each to be prefixed with the partition folder. */
export function reportLines(report: RecoveryReport, dryRun: boolean): string[] {
  const will = (done: string, would: string): string => (dryRun ? would : done)
  const lines: string[] = []
  if (report.truncatedBytes > 0) {
    const from = report.truncatedFromOffset === undefined ? '' : ` from offset ${report.truncatedFromOffset}`
    lines.push(`${will('cut', 'would cut')} ${plural(report.truncatedBytes, 'byte')} at the end of the log${from} (a torn write)`)
  }
  for (const r of report.repaired) {
    const lost = r.lostToOffset >= r.lostFromOffset ? `offsets ${r.lostFromOffset} to ${r.lostToOffset} lost` : 'no offset lost'
    lines.push(`${will('dropped', 'would drop')} ${plural(r.bytes, 'damaged byte')} at ${r.file} position ${r.position}, keeping the valid batches after them: ${lost}`)
  }
  if (report.segmentsRemoved > 0) lines.push(`${will('removed', 'would remove')} ${plural(report.segmentsRemoved, 'segment')} (past the cut, or damaged throughout)`)
  const checked = plural(report.segmentsRecovered, 'segment')
  if (lines.length === 0) {
    lines.push(dryRun ? `nothing to recover (checked ${checked})` : `nothing to recover (checked ${checked}, rebuilt ${plural(report.indexesRebuilt, 'index', 'indexes')})`)
  } else {
    lines.push(dryRun ? `checked ${checked}` : `checked ${checked}, rebuilt the indexes of ${plural(report.indexesRebuilt, 'segment')}`)
  }
  return lines
}

/** The report as JSON: every field present (`null` rather than a missing key). */
function reportJson(report: RecoveryReport): Record<string, unknown> {
  return { ...report, truncatedFromOffset: report.truncatedFromOffset ?? null }
}

/** One line for a partition that could not be recovered. */
function failureMessage(dir: string, err: SeglogError, dryRun: boolean): string {
  if (err instanceof LockedError && !dryRun) {
    const holder = /\(process (\d+)\)/.exec(err.message)?.[1]
    return `cannot recover '${dir}': a writer has it open${holder === undefined ? '' : ` (process ${holder})`}; stop it first or use --dry-run`
  }
  return `cannot recover '${dir}': ${err.message}`
}

/** The partition folders under `dir`. Throws CliError when there are none or `dir` is not a folder. */
function findPartitions(dir: string, failed: (err: CliError) => void): PartitionFolder[] {
  const found = classifyPath(dir, 'recover')
  if (found.kind === 'symlink') throw new CliError(`cannot recover '${dir}': it is a symbolic link, which seglog does not follow`)
  if (found.kind !== 'folder') throw new CliError(`cannot recover '${dir}': expected a folder (a partition, or a folder above partitions)`)
  const partitions: PartitionFolder[] = []
  walkFolder(
    found.dir,
    (item) => {
      if (item.kind === 'partition') partitions.push(item)
      // Partition.open refuses a symlinked folder; 'seglog verify' reports links as problems.
      else if (item.kind === 'symlink') process.stderr.write(`seglog recover: skipping '${item.path}': a symbolic link, which seglog does not follow\n`)
    },
    failed,
  )
  if (partitions.length === 0) {
    throw new CliError(`cannot recover '${dir}': no partition folders (folders holding 20-digit .log files) in it or below it`)
  }
  return partitions
}

export async function recover(dir: string, options: RecoverOptions): Promise<number> {
  const dryRun = options.dryRun === true
  const out = new LineWriter(process.stdout)
  let exitCode = EXIT_OK
  const failed = (err: CliError): void => {
    reportError('recover', err)
    exitCode = EXIT_ERROR
  }
  const partitions = findPartitions(dir, failed)
  for (const { dir: partition } of partitions) {
    const shown = path.normalize(partition)
    let report: RecoveryReport
    try {
      report = await Partition.recover(partition, { dryRun, maxBatchBytes: options.maxBatchBytes, maxUnsyncedBytes: options.maxUnsyncedBytes })
    } catch (err) {
      if (!(err instanceof SeglogError) && !isOperatingError(err)) throw err
      exitCode = EXIT_ERROR
      const seglogError = err instanceof SeglogError ? err : undefined
      if (options.json === true) {
        const code = seglogError?.code ?? (err as NodeJS.ErrnoException).code ?? 'ERR_STORAGE'
        const message = seglogError === undefined ? (err as Error).message : failureMessage(shown, seglogError, dryRun)
        await out.line(JSON.stringify({ dir: shown, error: { code, message } }))
        continue
      }
      await out.flush() // so that the message comes after the reports printed before it
      reportError('recover', seglogError === undefined ? err : new CliError(failureMessage(shown, seglogError, dryRun)))
      continue
    }
    if (options.json === true) await out.line(JSON.stringify({ dir: shown, report: reportJson(report) }))
    else for (const line of reportLines(report, dryRun)) await out.line(`${shown}: ${line}`)
    await out.flush() // one partition at a time, as each is done
  }
  await out.flush()
  return exitCode
}

export function register(program: Command): void {
  program
    .command('recover')
    .description('recover the partitions under a folder: cut torn tails, drop damaged ranges keeping what follows, rebuild indexes')
    .argument('<dir>', 'a partition folder, or a folder above partitions (walked; symbolic links are not followed)')
    .option('--dry-run', 'report what would be done; change nothing (safe beside a running writer)')
    .option('--json', 'print NDJSON: one object per partition, {"dir", "report"} or {"dir", "error": {"code", "message"}}')
    .option('--max-batch-bytes <bytes>', 'largest batch accepted as valid', parseBytes, MAX_BATCH_BYTES_DEFAULT)
    .option(
      '--max-unsynced-bytes <bytes>',
      "the writer's maxUnsyncedBytes: damage this close to the end of the log is a torn write and is cut with everything after it",
      parseBytes,
      DEFAULTS.maxUnsyncedBytes,
    )
    .addHelpText(
      'after',
      `
Every segment of each partition is validated (bounds, magic, CRC-32C, offsets) and its indexes
rebuilt. Damage with no valid batch after it, or within --max-unsynced-bytes of the end of the log,
is a torn write: the log is cut there. Damage with valid batches after it, further back, is media
corruption: only the damaged bytes are dropped, the batches after them are kept with their
offsets, and the offsets lost are reported ('seglog verify' then reports the gap as offset-gap).

For each partition, one line per thing done ("DIR: cut 57 bytes at the end of the log from offset
120 (a torn write)"), or "DIR: nothing to recover". The partition's writer must be stopped first:
a partition open for writing is reported and left alone (--dry-run takes no lock and works beside
it).

Exit status: 0 done, 2 usage or I/O error, or a partition held by a writer.

Examples:
  seglog recover --dry-run data/orders/0
  seglog recover data
  seglog recover --json data | jq 'select(.report.truncatedBytes > 0)'`,
    )
    .action(action('recover', (dir: string, options: RecoverOptions) => recover(dir, options)))
}
