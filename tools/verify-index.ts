/**
 * `seglog verify` for a segment's `.index` and `.timeindex`: each entry checked against the batches
 * of the `.log` as the segment's scan reaches them (formats: see dump-index.ts and src/index/).
 *
 * The check is a merge of two sorted streams, so memory stays at one read chunk whatever the
 * sizes: the scan hands over each batch in position (and offset) order, and the index's entries,
 * read in chunks, are in the same order when the index is sound.
 *
 * Rules (Kafka's writer rules, which seglog's Segment follows):
 * - `.index` (relativeOffset u32, position u32): entries strictly increase in both fields; each
 *   points at a batch boundary, and the batch there has lastOffset = base + relativeOffset (an
 *   entry maps a batch's last offset to the batch's start position). Kafka writes one entry per
 *   append, naming the append's last offset, and a follower appends several batches at once; so
 *   an offset past the batch's last is accepted when a batch after it ends exactly there (which
 *   keeps lookups right: the scan from the entry's position still reaches the offset).
 * - `.timeindex` (timestamp int64, relativeOffset u32): timestamps strictly increase, offsets do not
 *   decrease; the batch holding the entry's offset has maxTimestamp = the entry's timestamp. The
 *   writer's entry is (largest timestamp so far, offset where it was reached): seglog and Kafka
 *   name the last offset of the batch that reached it, but Kafka 3.7.0 named the offset of the
 *   record inside that batch, so the offset is accepted anywhere in the batch. The timestamp must
 *   be equal: every writer takes it from that batch's maxTimestamp.
 * - A preallocated, zero-filled tail is what a writer's open index looks like (and what a crash
 *   leaves): fine in the last segment of a partition, `index-untrimmed` in a sealed one, whose
 *   index was trimmed to its entries when it was sealed.
 *
 * Entries pointing into bytes the scan reported (damage, a torn tail) or did not check (a running
 * writer's) are not reported again: recovery rebuilds the index with the `.log`. Beside a running
 * writer the last entry can be half-written (entries are written byte by byte into a shared
 * mapping), so there it is skipped when it fails a check. At most {@link MAX_LISTED} problems are
 * listed per index file; the rest are counted in one more line.
 */
import fs from 'node:fs'
import { CliError, describeError } from './cli.js'
import { closeInputFile, openInputFile, readAt, type InputFile } from './input-file.js'
import { OFFSET_ENTRY_BYTES, TIME_ENTRY_BYTES } from './dump-index.js'
import type { Problem, ReportProblem } from './verify-problem.js'

/** A multiple of both entry sizes, so that no entry straddles two reads. */
const READ_CHUNK_BYTES = 24 * 4096
/** Problems listed per index file before the rest are only counted. */
export const MAX_LISTED = 10

/** Where the scan of the `.log` did not vouch for the bytes: entries pointing there are not judged. */
export interface SkippedRange {
  fromPosition: number
  toPosition: number
  fromOffset: number
  toOffset: number
}

/** How the index of one segment is to be judged. */
export interface IndexContext {
  file: string
  baseOffset: number
  /** Sealed: the file must be trimmed, and every entry must be inside the log. */
  sealed: boolean
  /** A writer may be appending to this index right now (its last entry may be half-written). */
  writerActive: boolean
  report: ReportProblem
}

/** The index file, opened if it is there; a symbolic link is reported, never followed. */
export function openIndexFile(file: string, report: ReportProblem): InputFile | undefined {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined // rebuilt from the .log when needed
    throw new CliError(`cannot open '${file}': ${describeError(err)}`, { cause: err })
  }
  if (stat.isSymbolicLink()) {
    report({ file, position: 0, kind: 'symlink', message: 'the index is a symbolic link, which seglog does not follow; not checked' })
    return undefined
  }
  return openInputFile(file)
}

/** Entries `[0, end)` of an index file, read forwards in chunks. */
class EntryReader {
  readonly #input: InputFile
  readonly #entryBytes: number
  readonly #end: number
  #buf: Buffer
  #bufPosition = 0
  #bufBytes = 0
  /** File position of the next entry. */
  position = 0

  constructor(input: InputFile, entryBytes: number, end: number) {
    this.#input = input
    this.#entryBytes = entryBytes
    this.#end = end
    this.#buf = Buffer.allocUnsafe(Math.max(entryBytes, Math.min(READ_CHUNK_BYTES, end)))
  }

  /** The next entry's bytes (valid until the next call), or undefined at the end. */
  next(): { buf: Buffer; at: number; position: number } | undefined {
    const position = this.position
    if (position + this.#entryBytes > this.#end) return undefined
    if (position + this.#entryBytes > this.#bufPosition + this.#bufBytes) {
      this.#bufPosition = position
      this.#bufBytes = readAt(this.#input, this.#buf, Math.min(this.#buf.length, this.#end - position), position)
      // The file shrank under us (a writer trimmed it at a roll): what is left is not there to judge.
      if (this.#bufBytes < this.#entryBytes) return undefined
    }
    this.position += this.#entryBytes
    return { buf: this.#buf, at: position - this.#bufPosition, position }
  }

  get atLastEntry(): boolean {
    return this.position + this.#entryBytes > this.#end
  }
}

/**
 * Where the entries of an index end: after its last non-zero byte, rounded up to a whole entry.
 * Read backwards from the end in chunks, so a long zero-filled tail costs one pass over it.
 */
function entriesEnd(input: InputFile, entryBytes: number): number {
  const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, Math.max(input.size, 1)))
  let end = input.size
  while (end > 0) {
    const from = Math.max(0, end - buf.length)
    const bytes = readAt(input, buf, end - from, from)
    for (let i = bytes - 1; i >= 0; i--) {
      if (buf[i] !== 0) return Math.ceil((from + i + 1) / entryBytes) * entryBytes
    }
    end = from
  }
  // All zeros. A trimmed file of exactly one entry is that entry (offset index (0, 0), time index
  // (0, 0)); a preallocated file is always larger than one entry.
  return input.size === entryBytes ? entryBytes : 0
}

/** Common to both index checks: the file, its entries' extent, the listing cap. */
abstract class IndexCheck {
  protected readonly ctx: IndexContext
  protected readonly input: InputFile
  protected readonly reader: EntryReader
  protected readonly skipped: SkippedRange[] = []
  #listed = 0
  #unlisted = 0
  #closed = false
  #firstUnlisted = 0

  constructor(ctx: IndexContext, input: InputFile, entryBytes: number) {
    this.ctx = ctx
    this.input = input
    let end = entriesEnd(input, entryBytes)
    if (end > input.size) {
      end -= entryBytes
      this.problem(end, `a partial entry of ${input.size - end} bytes at the end (entries are ${entryBytes} bytes)`)
    } else if (end < input.size && ctx.sealed) {
      ctx.report({
        file: ctx.file,
        position: end,
        kind: 'index-untrimmed',
        message:
          `${input.size - end} zero-filled bytes follow its ${end / entryBytes} entries: the index of a sealed segment is trimmed to its entries ` +
          `when the segment is sealed (a crash during the roll leaves this; seglog rebuilds such an index from the .log)`,
      })
    }
    this.reader = new EntryReader(input, entryBytes, end)
  }

  /** The scan of the `.log` does not vouch for these bytes and offsets: entries there are not judged. */
  skip(range: SkippedRange): void {
    this.skipped.push(range)
  }

  protected skippedPosition(position: number): boolean {
    return this.skipped.some((r) => position >= r.fromPosition && position < r.toPosition)
  }

  protected skippedOffset(offset: number): boolean {
    return this.skipped.some((r) => offset >= r.fromOffset && offset < r.toOffset)
  }

  protected problem(position: number, message: string): void {
    if (this.#listed >= MAX_LISTED) {
      if (this.#unlisted++ === 0) this.#firstUnlisted = position
      return
    }
    this.#listed++
    const problem: Problem = { file: this.ctx.file, position, kind: 'index', message }
    this.ctx.report(problem)
  }

  /** A failed check on an entry: skipped if a writer may be half-way through writing it (the last one). */
  protected failed(entry: { position: number; last: boolean }, message: string): void {
    if (this.ctx.writerActive && entry.last) return
    this.problem(entry.position, message)
  }

  /** Report the problems not listed, and release the file. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#unlisted > 0) {
      this.ctx.report({
        file: this.ctx.file,
        position: this.#firstUnlisted,
        kind: 'index',
        message: `and ${this.#unlisted} more problems from here on, not listed`,
      })
    }
    closeInputFile(this.input)
  }
}

interface OffsetEntry {
  /** Of the entry in the index file. */
  position: number
  offset: number
  batchPosition: number
  /** The last entry of the file. */
  last: boolean
}

/** The `.index` of a segment, checked batch by batch. */
export class OffsetIndexCheck extends IndexCheck {
  #pending: OffsetEntry | undefined
  /** The last entry in order, which the next must follow; and the last one the log confirmed. */
  #prev: OffsetEntry | undefined
  #confirmed: OffsetEntry | undefined
  /** An entry naming an offset past its batch's last, waiting for a later batch to end there. */
  #awaiting: { entry: OffsetEntry; batch: { position: number; baseOffset: number; lastOffset: number } } | undefined
  #prevBatch: { position: number; baseOffset: number; lastOffset: number } | undefined

  constructor(ctx: IndexContext, input: InputFile) {
    super(ctx, input, OFFSET_ENTRY_BYTES)
  }

  /** The next entry that follows the previous one; entries out of order are reported and dropped. */
  #peek(): OffsetEntry | undefined {
    while (this.#pending === undefined) {
      const raw = this.reader.next()
      if (raw === undefined) return undefined
      const entry = {
        position: raw.position,
        offset: this.ctx.baseOffset + raw.buf.readUInt32BE(raw.at),
        batchPosition: raw.buf.readUInt32BE(raw.at + 4),
        last: this.reader.atLastEntry,
      }
      const prev = this.#prev
      if (prev !== undefined && !(entry.offset > prev.offset && entry.batchPosition > prev.batchPosition)) {
        this.failed(entry, `entry ${describe(entry)} does not follow ${describe(prev)}: entries must strictly increase`)
        continue
      }
      this.#prev = entry
      this.#pending = entry
    }
    return this.#pending
  }

  /** The scan reached a valid batch at `position`. */
  batch(position: number, baseOffset: number, lastOffset: number): void {
    const awaiting = this.#awaiting
    if (awaiting !== undefined) {
      if (lastOffset === awaiting.entry.offset) this.#confirm(awaiting.entry)
      else if (lastOffset > awaiting.entry.offset) {
        if (this.skippedOffset(awaiting.entry.offset)) this.#awaiting = undefined
        else this.#misnamed(awaiting.entry, awaiting.batch, `batches up to offset ${lastOffset} follow it`)
      }
    }
    for (let entry = this.#peek(); entry !== undefined && entry.batchPosition <= position; entry = this.#peek()) {
      this.#pending = undefined
      if (entry.batchPosition < position) this.#notAtBoundary(entry)
      else if (entry.offset === lastOffset) this.#confirm(entry)
      else if (entry.offset < lastOffset) this.#misnamed(entry, { position, baseOffset, lastOffset })
      // Kafka writes one entry per append, naming the append's last offset, and a follower's
      // append can hold several batches: the offset must then end a batch that follows.
      else this.#awaiting = { entry, batch: { position, baseOffset, lastOffset } }
    }
    this.#prevBatch = { position, baseOffset, lastOffset }
  }

  #confirm(entry: OffsetEntry): void {
    this.#confirmed = entry
    if (this.#awaiting?.entry === entry) this.#awaiting = undefined
  }

  #misnamed(entry: OffsetEntry, batch: { position: number; baseOffset: number; lastOffset: number }, after = ''): void {
    if (this.#awaiting?.entry === entry) this.#awaiting = undefined
    this.#wrong(
      entry,
      `entry ${describe(entry)} names offset ${entry.offset}, but the batch at position ${batch.position} holds offsets ${batch.baseOffset} to ${batch.lastOffset}` +
        `${after === '' ? '' : `, and no batch ending at ${entry.offset} follows it (${after})`} (an entry maps a batch's last offset to the batch's position)`,
    )
  }

  /** A wrong entry: the next one is judged against the last good one, so one bad entry is one report. */
  #wrong(entry: OffsetEntry, message: string): void {
    this.failed(entry, message)
    this.#prev = this.#confirmed
  }

  #notAtBoundary(entry: OffsetEntry): void {
    if (this.skippedPosition(entry.batchPosition)) return
    const inside = this.#prevBatch === undefined ? '' : ` (it is inside the batch at position ${this.#prevBatch.position})`
    this.#wrong(entry, `entry ${describe(entry)} does not point at a batch boundary${inside}`)
  }

  /** The scan is over; the `.log` holds `logBytes` bytes (the scan's view of it). */
  finish(logBytes: number): void {
    const awaiting = this.#awaiting
    if (awaiting !== undefined && !this.skippedOffset(awaiting.entry.offset)) {
      this.#misnamed(awaiting.entry, awaiting.batch, 'the segment ends before it')
    }
    for (let entry = this.#peek(); entry !== undefined; entry = this.#peek()) {
      this.#pending = undefined
      if (this.skippedPosition(entry.batchPosition)) continue
      if (entry.batchPosition >= logBytes) this.#wrong(entry, `entry ${describe(entry)} points past the end of the log (${logBytes} bytes)`)
      else this.#notAtBoundary(entry)
    }
    this.close()
  }
}

function describe(entry: OffsetEntry): string {
  return `(offset ${entry.offset} → position ${entry.batchPosition})`
}

interface TimeEntry {
  /** Of the entry in the index file. */
  position: number
  timestamp: number
  offset: number
  /** The last entry of the file. */
  last: boolean
}

/** The `.timeindex` of a segment, checked batch by batch. */
export class TimeIndexCheck extends IndexCheck {
  #pending: TimeEntry | undefined
  /** The last entry in order, which the next must follow; and the last one the log confirmed. */
  #prev: TimeEntry | undefined
  #confirmed: TimeEntry | undefined
  #lastOffset: number | undefined

  constructor(ctx: IndexContext, input: InputFile) {
    super(ctx, input, TIME_ENTRY_BYTES)
  }

  #peek(): TimeEntry | undefined {
    while (this.#pending === undefined) {
      const raw = this.reader.next()
      if (raw === undefined) return undefined
      const entry = {
        position: raw.position,
        // Two 32-bit reads: exact for |timestamp| < 2^53, which every millisecond timestamp is.
        timestamp: raw.buf.readInt32BE(raw.at) * 0x1_0000_0000 + raw.buf.readUInt32BE(raw.at + 4),
        offset: this.ctx.baseOffset + raw.buf.readUInt32BE(raw.at + 8),
        last: this.reader.atLastEntry,
      }
      const prev = this.#prev
      if (prev !== undefined && !(entry.timestamp > prev.timestamp && entry.offset >= prev.offset)) {
        this.failed(
          entry,
          `entry (timestamp ${entry.timestamp}, offset ${entry.offset}) does not follow (timestamp ${prev.timestamp}, offset ${prev.offset}): ` +
            `timestamps must strictly increase and offsets not decrease`,
        )
        continue
      }
      this.#prev = entry
      this.#pending = entry
    }
    return this.#pending
  }

  /** The scan reached a valid batch holding offsets `[baseOffset, lastOffset]`. */
  batch(position: number, baseOffset: number, lastOffset: number, maxTimestamp: number): void {
    for (let entry = this.#peek(); entry !== undefined && entry.offset <= lastOffset; entry = this.#peek()) {
      this.#pending = undefined
      if (entry.offset < baseOffset) {
        if (!this.skippedOffset(entry.offset)) this.#wrong(entry, `entry (timestamp ${entry.timestamp}, offset ${entry.offset}) names an offset that no batch holds`)
      } else if (entry.timestamp !== maxTimestamp) {
        this.#wrong(
          entry,
          `entry (timestamp ${entry.timestamp}, offset ${entry.offset}) disagrees with the batch holding that offset ` +
            `(position ${position}, offsets ${baseOffset} to ${lastOffset}), whose maxTimestamp is ${maxTimestamp}`,
        )
      } else this.#confirmed = entry
    }
    this.#lastOffset = lastOffset
  }

  /** A wrong entry: the next one is judged against the last good one, so one bad entry is one report. */
  #wrong(entry: TimeEntry, message: string): void {
    this.failed(entry, message)
    this.#prev = this.#confirmed
  }

  /** The scan is over. */
  finish(): void {
    for (let entry = this.#peek(); entry !== undefined; entry = this.#peek()) {
      this.#pending = undefined
      if (this.skippedOffset(entry.offset)) continue
      const last = this.#lastOffset === undefined ? 'the segment has no batch' : `the segment's last offset is ${this.#lastOffset}`
      this.#wrong(entry, `entry (timestamp ${entry.timestamp}, offset ${entry.offset}) is past the end of the log: ${last}`)
    }
    this.close()
  }
}
