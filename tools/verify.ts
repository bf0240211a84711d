/**
 * `seglog verify PATH...`: check segment files, partitions, topics or a whole log root, as bbolt's
 * `check` does: every problem printed as it is found, then "N problems found" or "OK".
 *
 * A PATH is a `.log` file, a partition folder (holding `<20-digit base offset>.log` files) or any
 * folder above them, walked without following symbolic links (walk.ts). Each partition's segments
 * are checked in offset order (verify-segment.ts, verify-index.ts), with offsets followed from one
 * segment to the next. Other `.log` files are standalone segments (Kafka's files copied under
 * another name, say): checked alone, their base offset taken from their first batch.
 *
 * Read-only, and safe beside a running writer: files are opened O_RDONLY (never created), no lock
 * is taken or tested, and in a partition's last segment the batches from the writer's published
 * durable offset on (the `durable-offset` file, written under fsync 'always') are left alone.
 *
 * Exit code: 0 nothing wrong, 1 problems found, 2 usage or I/O error (every path is still checked).
 */
import fs from 'node:fs'
import path from 'node:path'
import { InvalidArgumentError, type Command } from 'commander'
import * as io from '../src/file-io.js'
import { CLEANER_OFFSET_FILE, DEFAULTS, readKnownGaps } from '../src/partition/index.js'
import { MAX_BATCH_BYTES_DEFAULT, segmentName } from '../src/segment/index.js'
import { action, CliError, describeError, EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, reportError } from './cli.js'
import { LineWriter } from './output.js'
import { startProgress, type Progress } from './progress.js'
import { problemLine, type Checked, type Problem } from './verify-problem.js'
import { verifySegment, type LeaderEpoch, type SegmentTarget, type SegmentVerifyOptions } from './verify-segment.js'
import { classifyPath, walkFolder, type Found, type PartitionFolder } from './walk.js'

/**
 * The file a writer under fsync 'always' publishes its durable offset in (8 bytes, big-endian
 * int64), as src/partition/checkpoints.ts names it; the tests check the two agree.
 */
export const DURABLE_OFFSET_FILE = 'durable-offset'
const DURABLE_OFFSET_BYTES = 8

/** Options as commander gives them: flags not given are absent. */
export interface VerifyOptions {
  json?: boolean
  maxBatchBytes: number
  maxUnsyncedBytes: number
}

/** Parse a positive byte count given on the command line. */
export function parseBytes(text: string): number {
  const bytes = Number(text)
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InvalidArgumentError('expected a positive integer number of bytes')
  return bytes
}

/**
 * The writer's published durable offset, or undefined when there is none (no writer under fsync
 * 'always' since the file was removed) or it is unreadable as a number: then every byte is checked.
 */
export function readDurableOffset(dir: string): number | undefined {
  const file = path.join(dir, DURABLE_OFFSET_FILE)
  let fd: number
  try {
    fd = io.open(file, fs.constants.O_RDONLY)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new CliError(`cannot open '${file}': ${describeError(err)}`, { cause: err })
  }
  try {
    const buf = Buffer.alloc(DURABLE_OFFSET_BYTES)
    if (io.preadFully(fd, buf, 0, DURABLE_OFFSET_BYTES, 0) < DURABLE_OFFSET_BYTES) return undefined
    const offset = buf.readBigInt64BE(0)
    return offset < 0n || offset > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(offset)
  } catch (err) {
    throw new CliError(`cannot read '${file}': ${describeError(err)}`, { cause: err })
  } finally {
    io.close(fd)
  }
}

/** A progress bar that steps aside while a line is printed (a line under a redrawn bar garbles both). */
class PausableProgress {
  readonly #totalBytes: number
  #progress: Progress
  #doneBytes = 0

  constructor(totalBytes: number) {
    this.#totalBytes = totalBytes
    this.#progress = this.#start()
  }

  #start(): Progress {
    // Output is written only while the bar is paused, so it never shares the terminal with it.
    return startProgress({ label: 'verify', totalBytes: this.#totalBytes, outputToStdout: false })
  }

  update(doneBytes: number): void {
    this.#doneBytes = doneBytes
    this.#progress.update(doneBytes)
  }

  async around(write: () => Promise<void>): Promise<void> {
    this.#progress.stop()
    try {
      await write()
    } finally {
      this.#progress = this.#start()
      this.#progress.update(this.#doneBytes)
    }
  }

  stop(): void {
    this.#progress.stop()
  }
}

/** One run of `seglog verify`: what was found and checked, and where output goes. */
class Verification {
  readonly checked: Checked = { files: 0, batches: 0, records: 0, bytes: 0 }
  readonly problems: Problem[] = []
  problemCount = 0
  errors = 0
  readonly #json: boolean
  readonly #out = new LineWriter(process.stdout)
  readonly #progress: PausableProgress
  #pending: Problem[] = []
  #bytesBefore = 0

  constructor(json: boolean, totalBytes: number) {
    this.#json = json
    this.#progress = new PausableProgress(totalBytes)
  }

  readonly report = (problem: Problem): void => {
    this.problemCount++
    if (this.#json) this.problems.push(problem)
    else this.#pending.push(problem)
  }

  /** Print the problems reported since the last drain, at once (so they stream to a terminal). */
  readonly drain = async (): Promise<void> => {
    if (this.#pending.length === 0) return
    const pending = this.#pending
    this.#pending = []
    await this.#progress.around(async () => {
      for (const problem of pending) await this.#out.line(problemLine(problem))
      await this.#out.flush()
    })
  }

  /** An operating error: one line on stderr, after what was printed before it; the run goes on. */
  async error(err: unknown): Promise<void> {
    if (!(err instanceof CliError)) throw err
    this.errors++
    await this.drain()
    await this.#progress.around(async () => {
      await this.#out.flush()
      reportError('verify', err)
    })
  }

  segmentOptions(maxBatchBytes: number, maxUnsyncedBytes: number): SegmentVerifyOptions {
    const before = this.#bytesBefore
    return {
      maxBatchBytes,
      maxUnsyncedBytes,
      report: this.report,
      drain: this.drain,
      progress: (bytes) => this.#progress.update(before + bytes),
      checked: this.checked,
    }
  }

  /** A segment of `bytes` bytes is done (for the progress bar). */
  advance(bytes: number): void {
    this.#bytesBefore += bytes
    this.#progress.update(this.#bytesBefore)
  }

  async finish(): Promise<void> {
    await this.drain()
    this.#progress.stop()
    const c = this.checked
    const counts = `checked ${plural(c.files, 'file')}, ${plural(c.batches, 'batch', 'batches')}, ${plural(c.records, 'record')}, ${plural(c.bytes, 'byte')}`
    if (this.#json) {
      await this.#out.line(JSON.stringify({ ok: this.problemCount === 0 && this.errors === 0, problems: this.problems, checked: c }))
    } else if (this.problemCount === 0 && this.errors === 0) {
      await this.#out.line(`OK (${counts})`)
    } else {
      const errors = this.errors === 0 ? '' : `, and ${plural(this.errors, 'error')} (on stderr)`
      await this.#out.line(`${plural(this.problemCount, 'problem')} found${errors} (${counts})`)
    }
    await this.#out.flush()
  }
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`
}

/** Size of a file for the progress bar's total; 0 if it cannot be looked at (the check reports why). */
function sizeOf(file: string): number {
  try {
    return fs.lstatSync(file).size
  } catch {
    return 0
  }
}

function segmentFiles(folder: PartitionFolder): Array<{ baseOffset: number; file: string }> {
  if (folder.only !== undefined) return [folder.only]
  return folder.baseOffsets.map((baseOffset) => ({ baseOffset, file: path.join(folder.dir, segmentName(baseOffset) + '.log') }))
}

async function verifyPartition(run: Verification, folder: PartitionFolder, options: VerifyOptions): Promise<void> {
  // Read before any segment is opened: every batch below it was whole on disk when it was published.
  let durableOffset: number | undefined
  try {
    durableOffset = readDurableOffset(folder.dir)
  } catch (err) {
    await run.error(err)
  }
  // Gaps are legitimate in a compacted partition and where repair dropped damaged batches.
  const compacted = fs.existsSync(path.join(folder.dir, CLEANER_OFFSET_FILE))
  const knownGaps = readKnownGaps(folder.dir)
  const gapAllowed = (from: number, to: number): boolean => compacted || knownGaps.some(([a, b]) => a <= from && to <= b)
  const lastBase = folder.baseOffsets[folder.baseOffsets.length - 1]
  let previous: SegmentTarget['previous']
  let leaderEpoch: LeaderEpoch | undefined
  // Recovery's torn-write window is measured from the end of the log: it needs the later sizes.
  const laterBytesOf = new Map<number, number>()
  let later = 0
  for (let i = folder.baseOffsets.length - 1; i >= 0; i--) {
    const base = folder.baseOffsets[i] as number
    laterBytesOf.set(base, later)
    later += sizeOf(path.join(folder.dir, segmentName(base) + '.log'))
  }
  for (const { baseOffset, file } of segmentFiles(folder)) {
    const laterBytes = laterBytesOf.get(baseOffset) ?? 0
    const last = baseOffset === lastBase
    const target: SegmentTarget = {
      file,
      gapAllowed,
      nameBaseOffset: baseOffset,
      inPartition: true,
      last,
      laterBytes,
      durableOffset: last ? durableOffset : undefined,
      previous,
      leaderEpoch,
    }
    try {
      const result = await verifySegment(target, run.segmentOptions(options.maxBatchBytes, options.maxUnsyncedBytes))
      leaderEpoch = result.leaderEpoch
      previous =
        result.nextOffset === undefined
          ? undefined
          : {
              nextOffset: result.nextOffset,
              description:
                result.lastOffset === undefined
                  ? `the previous segment ${file} holds no batch (its name says it starts at offset ${baseOffset})`
                  : `the previous segment ${file} ends at offset ${result.lastOffset}`,
            }
    } catch (err) {
      await run.error(err)
      previous = undefined // cannot say where the next segment should start
    }
    run.advance(sizeOf(file))
  }
}

async function verifyItem(run: Verification, item: Found, options: VerifyOptions): Promise<void> {
  if (item.kind === 'symlink') {
    run.report({ file: item.path, position: 0, kind: 'symlink', message: 'a symbolic link, which seglog does not follow (open refuses it); not checked' })
    await run.drain()
    return
  }
  if (item.kind === 'partition') return verifyPartition(run, item, options)
  const target: SegmentTarget = {
    file: item.file,
    nameBaseOffset: undefined,
    inPartition: false,
    last: true,
    laterBytes: 0,
    durableOffset: undefined,
    previous: undefined,
    leaderEpoch: undefined,
  }
  try {
    await verifySegment(target, run.segmentOptions(options.maxBatchBytes, options.maxUnsyncedBytes))
  } catch (err) {
    await run.error(err)
  }
  run.advance(sizeOf(item.file))
}

export async function verify(paths: readonly string[], options: VerifyOptions): Promise<number> {
  // Walk everything first: the progress bar needs the total, and a path that is not there is
  // reported at once rather than after minutes of checking the others.
  const items: Found[] = []
  let walkErrors = 0
  const failed = (err: CliError): void => {
    reportError('verify', err)
    walkErrors++
  }
  for (const p of paths) {
    try {
      const found = classifyPath(p, 'verify')
      if (found.kind !== 'folder') {
        items.push(found)
        continue
      }
      const before = items.length
      walkFolder(found.dir, (item) => items.push(item), failed)
      if (items.length === before) failed(new CliError(`cannot verify '${p}': no segment files (.log) in it or in any folder below it`))
    } catch (err) {
      if (!(err instanceof CliError)) throw err
      failed(err)
    }
  }
  let totalBytes = 0
  if (process.stderr.isTTY === true) {
    for (const item of items) {
      if (item.kind === 'standalone') totalBytes += sizeOf(item.file)
      else if (item.kind === 'partition') for (const { file } of segmentFiles(item)) totalBytes += sizeOf(file)
    }
  }
  // Nothing to check at all (every path missing, say): the errors said it all.
  if (items.length === 0) return EXIT_ERROR
  const run = new Verification(options.json === true, totalBytes)
  run.errors = walkErrors
  for (const item of items) await verifyItem(run, item, options)
  await run.finish()
  if (run.errors > 0) return EXIT_ERROR
  return run.problemCount > 0 ? EXIT_PROBLEMS : EXIT_OK
}

export function register(program: Command): void {
  program
    .command('verify')
    .description('check segment files, partitions, topics or a whole log: every batch, record, offset and index entry')
    .argument('<path...>', 'segment files (.log), partition folders, or folders above them (walked; symbolic links are not followed)')
    .option('--json', 'print one JSON object at the end: {"ok", "problems": [{"file", "position", "kind", "message"}], "checked"}')
    .option('--max-batch-bytes <bytes>', 'largest batch accepted as valid', parseBytes, MAX_BATCH_BYTES_DEFAULT)
    .option(
      '--max-unsynced-bytes <bytes>',
      "the writer's maxUnsyncedBytes: damage this close to the end of the log is a torn write, which open cuts",
      parseBytes,
      DEFAULTS.maxUnsyncedBytes,
    )
    .addHelpText(
      'after',
      `
Checks, in every segment: each batch's bounds, magic and CRC-32C; every record decoded; offsets
increasing from batch to batch and from segment to segment (a segment's first offset is the
previous one's last + 1); partition leader epochs never decreasing; each .index entry pointing at
the start of the batch whose last offset it names; each .timeindex entry naming the maxTimestamp of
the batch holding its offset; a sealed segment's indexes trimmed to their entries.

Each problem is printed as it is found, as
  FILE: position P: KIND: message
then "N problems found" or "OK", with what was checked. KIND is one of:
  corrupt            invalid bytes with valid batches after them, or any in a sealed segment
  torn-tail          invalid bytes at the end of the log: open or 'seglog recover' cuts them
  bad-record         a batch whose records do not decode
  unsupported-codec  a batch compressed with snappy, lz4 or zstd: its records are not checked
  offset-gap         offsets missing between batches or segments (e.g. dropped by recover)
  offset-overlap     offsets going backwards, or below a segment's base offset
  leader-epoch       a partitionLeaderEpoch below -1 or decreasing (the CRC does not cover it)
  index              an .index or .timeindex entry that is out of order or wrong
  index-untrimmed    a sealed segment's index still ends in its preallocated zeros
  symlink            a symbolic link, which seglog never follows; not checked

Read-only and safe beside a running writer: nothing is created, changed or locked. In the last
segment of a partition, the batches past the durable offset a writer publishes (fsync 'always')
are its work in progress and are not checked; the last segment's indexes may end in zeros.

Exit status: 0 OK, 1 problems found, 2 usage or I/O error.

Examples:
  seglog verify data/orders/0
  seglog verify data
  seglog verify --json data | jq '.problems[] | select(.kind == "corrupt")'
  seglog verify 00000000000000000000.log`,
    )
    .action(action('verify', (paths: string[], options: VerifyOptions) => verify(paths, options)))
}
