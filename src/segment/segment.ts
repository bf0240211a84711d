/**
 * A segment: one `.log` file of batches written back to back, with its sparse offset index
 * (`.index`) and time index (`.timeindex`). The name of all three is the segment's base offset,
 * 20 digits, so that names sort in offset order.
 *
 * Index rule (Kafka's): when more than `indexIntervalBytes` were appended since the last entry,
 * the batch being appended gets an entry mapping its last offset to its start position, and the
 * time index gets (largest timestamp so far, its offset) if that timestamp grew.
 *
 * Only the partition's writer appends, and only to its active segment; a sealed segment's
 * indexes are trimmed and never change again (except when recovery rebuilds them).
 */
import assert from 'node:assert'
import fs from 'node:fs'
import path from 'node:path'
import * as io from '../file-io.js'
import { CorruptRecordError } from '../errors.js'
import { OffsetIndex, TimeIndex } from '../index/index.js'
import { scanBatches, type ScanStep } from './batch-scanner.js'
import { BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, lastOffsetOf, LOG_OVERHEAD_BYTES, readBatchHeader, type BatchHeader } from './record-batch.js'

export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'
const NAME_DIGITS = 20

/** `00000000000000000042` for 42. */
export function segmentName(baseOffset: number): string {
  return String(baseOffset).padStart(NAME_DIGITS, '0')
}

/** The base offset a `.log` file name stands for, or undefined if it is not a segment name. */
export function parseSegmentName(name: string): number | undefined {
  if (!name.endsWith(LOG_SUFFIX)) return undefined
  const digits = name.slice(0, -LOG_SUFFIX.length)
  if (digits.length !== NAME_DIGITS || !/^[0-9]+$/.test(digits)) return undefined
  const baseOffset = Number(digits)
  return Number.isSafeInteger(baseOffset) ? baseOffset : undefined
}

export interface SegmentOptions {
  indexIntervalBytes: number
  maxIndexBytes: number
  maxBatchBytes: number
  /** Open for appending (the active segment of a writer). */
  writable: boolean
  /**
   * Rebuild a sealed segment's indexes from the `.log` when they are missing or fail their sanity
   * check (a writer does; a read-only process, which must not write, scans without them instead).
   */
  repairIndexes: boolean
  fileMode: number
}

/** Where a lookup landed: the batch holding the offset (or the first batch after it). */
export interface BatchLocation {
  position: number
  header: BatchHeader
}

/** What recovering a segment found: the valid prefix and, if any, the first invalid bytes. */
export interface SegmentScan {
  validBytes: number
  batches: number
  /** One past the last offset of the last valid batch; the base offset if none. */
  nextOffset: number
  invalid?: { position: number; problem: string; message: string }
}

export class Segment {
  readonly dir: string
  readonly baseOffset: number
  readonly file: string
  #fd: number
  #size: number
  // Indexes open lazily: opening a log of a thousand segments touches only what it reads.
  #offsetIndexOpen: OffsetIndex | undefined
  #timeIndexOpen: TimeIndex | undefined
  #options: SegmentOptions
  #writable: boolean
  #bytesSinceIndexEntry = 0
  #maxTimestamp = -1
  #offsetOfMaxTimestamp = -1
  #nextOffset: number | undefined
  #created: number
  #closed = false
  #indexesRebuilt = 0

  private constructor(dir: string, baseOffset: number, fd: number, size: number, options: SegmentOptions) {
    this.dir = dir
    this.baseOffset = baseOffset
    this.file = path.join(dir, segmentName(baseOffset) + LOG_SUFFIX)
    this.#fd = fd
    this.#size = size
    this.#options = options
    this.#writable = options.writable
    this.#created = Date.now()
  }

  /** Create a new, empty segment (its files must not exist). The caller fsyncs the folder. */
  static create(dir: string, baseOffset: number, options: SegmentOptions): Segment {
    const base = path.join(dir, segmentName(baseOffset))
    const fd = io.open(base + LOG_SUFFIX, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_EXCL, options.fileMode)
    try {
      // Stale indexes of a segment that was removed at this offset would be wrong: start clean.
      io.unlinkIfExists(base + INDEX_SUFFIX)
      io.unlinkIfExists(base + TIME_INDEX_SUFFIX)
      const segment = Segment.#withIndexes(dir, baseOffset, fd, 0, options)
      segment.#nextOffset = baseOffset
      return segment
    } catch (err) {
      io.close(fd)
      throw err
    }
  }

  /** Open an existing segment. Its indexes are opened as they are: check or rebuild them after. */
  static open(dir: string, baseOffset: number, options: SegmentOptions): Segment {
    const file = path.join(dir, segmentName(baseOffset) + LOG_SUFFIX)
    const fd = io.open(file, options.writable ? fs.constants.O_RDWR : fs.constants.O_RDONLY)
    try {
      return Segment.#withIndexes(dir, baseOffset, fd, io.fstatSize(fd), options)
    } catch (err) {
      io.close(fd)
      throw err
    }
  }

  static #withIndexes(dir: string, baseOffset: number, fd: number, size: number, options: SegmentOptions): Segment {
    const segment = new Segment(dir, baseOffset, fd, size, options)
    // The writer's active segment opens (and preallocates) its indexes at once; others on use.
    if (options.writable) segment.#openIndexes()
    return segment
  }

  #openIndexes(writable = this.#writable): void {
    const base = path.join(this.dir, segmentName(this.baseOffset))
    const missing = !writable && this.#size > 0 && !fs.existsSync(base + INDEX_SUFFIX)
    const indexOptions = { baseOffset: this.baseOffset, maxIndexBytes: this.#options.maxIndexBytes, writable, mode: this.#options.fileMode }
    const offsetIndex = OffsetIndex.open(base + INDEX_SUFFIX, indexOptions)
    try {
      this.#timeIndexOpen = TimeIndex.open(base + TIME_INDEX_SUFFIX, indexOptions)
    } catch (err) {
      offsetIndex.close()
      throw err
    }
    this.#offsetIndexOpen = offsetIndex
    if (!writable && (missing || this.sanityCheck() !== undefined)) {
      if (this.#options.repairIndexes) {
        this.recover()
        this.#indexesRebuilt++
      } else {
        // Unusable and not ours to fix: look up from the start of the file instead.
        offsetIndex.close()
        this.#timeIndexOpen.close()
        this.#offsetIndexOpen = OffsetIndex.open(base + INDEX_SUFFIX + '.none', { ...indexOptions, writable: false })
        this.#timeIndexOpen = TimeIndex.open(base + TIME_INDEX_SUFFIX + '.none', { ...indexOptions, writable: false })
      }
    }
    const last = this.#timeIndexOpen.lastEntry()
    if (last !== undefined && last.timestamp > this.#maxTimestamp) {
      this.#maxTimestamp = last.timestamp
      this.#offsetOfMaxTimestamp = last.offset
    }
  }

  /** How many times this segment's indexes were rebuilt because they were missing or insane. */
  get indexesRebuilt(): number {
    return this.#indexesRebuilt
  }

  get #offsetIndex(): OffsetIndex {
    if (this.#offsetIndexOpen === undefined) this.#openIndexes()
    return this.#offsetIndexOpen as OffsetIndex
  }

  get #timeIndex(): TimeIndex {
    if (this.#timeIndexOpen === undefined) this.#openIndexes()
    return this.#timeIndexOpen as TimeIndex
  }

  /** Bytes in the `.log` file (as far as this process knows). */
  get size(): number {
    return this.#size
  }
  get fd(): number {
    return this.#fd
  }
  get writable(): boolean {
    return this.#writable
  }
  get offsetIndex(): OffsetIndex {
    return this.#offsetIndex
  }
  get timeIndex(): TimeIndex {
    return this.#timeIndex
  }
  /** Largest record timestamp in the segment (from its time index), -1 if unknown. */
  get maxTimestamp(): number {
    if (this.#timeIndexOpen === undefined) this.#openIndexes()
    return this.#maxTimestamp
  }
  /** When this process created or opened the segment (ms), for `segmentMs`. */
  get createdMs(): number {
    return this.#created
  }
  get indexFull(): boolean {
    return this.#offsetIndex.isFull || this.#timeIndex.isFull
  }

  /**
   * One past the last offset in the segment. Found from the last index entry plus a scan of the
   * batches after it, so it costs at most `indexIntervalBytes` plus one batch of reading.
   */
  nextOffset(): number {
    if (this.#nextOffset === undefined) this.checkTail()
    return this.#nextOffset as number
  }

  /**
   * Scan from the last offset index entry to the end of the file: the cheap check of a cleanly
   * closed segment. Returns a sentence naming the problem if the entry does not point at a batch
   * or the batches after it do not end exactly at the end of the file.
   */
  checkTail(): string | undefined {
    const last = this.#offsetIndex.lastEntry()
    const from = last?.position ?? 0
    let next = this.baseOffset
    let end = from
    let problem: string | undefined
    for (const step of scanBatches(this.#fd, { from, end: this.#size, maxBatchBytes: this.#options.maxBatchBytes })) {
      if (step.kind === 'invalid') {
        problem = `invalid batch at position ${step.position}: ${step.message}`
        break
      }
      if (step.position === from && last !== undefined && lastOffsetOf(step.header) !== last.offset) {
        problem = `last index entry says offset ${last.offset} at position ${from}, the batch there ends at ${lastOffsetOf(step.header)}`
        break
      }
      next = lastOffsetOf(step.header) + 1
      end = step.position + step.size
    }
    this.#nextOffset = next
    if (problem === undefined && end !== this.#size) problem = `batches end at position ${end}, the file at ${this.#size}`
    return problem
  }

  /** Re-read the file's size (a read-only process following a writer). */
  refreshSize(): number {
    this.#size = io.fstatSize(this.#fd)
    this.#nextOffset = undefined
    return this.#size
  }

  /**
   * Append one encoded batch (its baseOffset already set) at the end of the file: one write.
   * Returns the position it was written at.
   */
  append(batch: Buffer, header: { baseOffset: number; lastOffset: number; maxTimestamp: number }): number {
    assert(this.#writable && !this.#closed, 'append to a sealed or closed segment')
    assert(header.baseOffset >= this.baseOffset && header.lastOffset - this.baseOffset <= 0xffff_ffff, 'offset outside the segment')
    const position = this.#size
    io.pwriteFully(this.#fd, batch, 0, batch.length, position)
    this.#size += batch.length
    this.#afterBatch(position, batch.length, header.lastOffset, header.maxTimestamp)
    return position
  }

  #afterBatch(position: number, size: number, lastOffset: number, maxTimestamp: number): void {
    if (maxTimestamp > this.#maxTimestamp) {
      this.#maxTimestamp = maxTimestamp
      this.#offsetOfMaxTimestamp = lastOffset
    }
    if (this.#bytesSinceIndexEntry > this.#options.indexIntervalBytes && !this.indexFull) {
      this.#offsetIndex.append(lastOffset, position)
      this.#timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp)
      this.#bytesSinceIndexEntry = 0
    }
    this.#bytesSinceIndexEntry += size
    this.#nextOffset = lastOffset + 1
  }

  /** Read up to `length` bytes at `position` into `buffer`; returns bytes read (capped at the size). */
  read(buffer: Buffer, position: number, length: number): number {
    const bytes = Math.min(length, this.#size - position)
    if (bytes <= 0) return 0
    return io.preadFully(this.#fd, buffer, 0, bytes, position)
  }

  /**
   * Locate the batch holding `offset`, or the first batch after it: the largest index entry at or
   * below it, then a scan of batch headers forward. Undefined when the segment ends before it.
   */
  locate(offset: number, endPosition = this.#size): BatchLocation | undefined {
    const entry = this.#offsetIndex.lookup(offset)
    const start = this.#trustedStart(entry.position, entry.offset, endPosition)
    return this.#scanFor(start, endPosition, (h) => lastOffsetOf(h) >= offset)
  }

  /** Locate the first batch whose largest timestamp is at least `timestamp`. */
  locateTimestamp(timestamp: number, endPosition = this.#size): BatchLocation | undefined {
    const entry = this.#timeIndex.lookup(timestamp)
    let start = 0
    if (entry !== undefined) {
      const at = this.#offsetIndex.lookup(entry.offset)
      start = this.#trustedStart(at.position, at.offset, endPosition)
      // The time entry says its offset's batch has this largest timestamp (Kafka's writer rule);
      // if the batch found there disagrees, the time index is wrong: scan from the start.
      if (start > 0) {
        const batch = this.#scanFor(start, endPosition, (h) => lastOffsetOf(h) >= entry.offset)
        if (batch === undefined || batch.header.maxTimestamp < entry.timestamp) start = this.#indexBroken()
      }
    }
    return this.#scanFor(start, endPosition, (h) => h.maxTimestamp >= timestamp)
  }

  /**
   * Where a scan may start for an index entry: its position if the batch there really ends at the
   * entry's offset (DESIGN: an entry maps a batch's last offset to its start), else 0. Indexes
   * carry no checksum, so an entry that lies is found here, and the index is rebuilt (by a writer)
   * or ignored (by a reader), instead of reads silently skipping records.
   */
  #trustedStart(position: number, entryOffset: number, endPosition: number): number {
    if (position === 0) return 0
    if (position >= endPosition) return 0 // a reader racing a writer's recovery: not usable
    if (position + BATCH_HEADER_BYTES <= endPosition) {
      const header = Buffer.allocUnsafe(BATCH_HEADER_BYTES)
      io.preadFully(this.#fd, header, 0, BATCH_HEADER_BYTES, position)
      const length = header.readInt32BE(8)
      const ends = position + LOG_OVERHEAD_BYTES + length
      if (length >= BATCH_LENGTH_MIN && ends <= endPosition && header.readInt8(16) === 2 && lastOffsetOf(readBatchHeader(header, 0)) === entryOffset) {
        return position
      }
    }
    return this.#indexBroken()
  }

  /** An index entry lied: a writer rebuilds the indexes from the `.log`; either way, scan from 0. */
  #indexBroken(): number {
    if (this.#options.repairIndexes || this.#writable) {
      this.recover()
      this.#indexesRebuilt++
    }
    return 0
  }

  /**
   * Scan batch headers from `start` (a batch boundary) for the first one `found` accepts. Only
   * headers are read, so only bounds and offset order can be checked here (the reader checks
   * the CRC); an impossible header inside the readable range is damage, not the end.
   */
  #scanFor(start: number, endPosition: number, found: (h: BatchHeader) => boolean): BatchLocation | undefined {
    const header = Buffer.allocUnsafe(BATCH_HEADER_BYTES)
    let position = start
    let previousLast = -1
    while (position < endPosition) {
      const problem = (what: string): CorruptRecordError =>
        new CorruptRecordError(`Cannot read ${this.file} at position ${position}: ${what}; run 'seglog verify'`, { file: this.file, position })
      if (position + BATCH_HEADER_BYTES > endPosition) throw problem(`${endPosition - position} bytes left, less than a batch header`)
      io.preadFully(this.#fd, header, 0, BATCH_HEADER_BYTES, position)
      const length = header.readInt32BE(8)
      if (length < BATCH_LENGTH_MIN || position + LOG_OVERHEAD_BYTES + length > endPosition) throw problem(`batchLength ${length} does not fit`)
      const h = readBatchHeader(header, 0)
      if (h.baseOffset <= previousLast) throw problem(`batch starts at offset ${h.baseOffset}, not after the previous batch's ${previousLast}`)
      if (found(h)) return { position, header: h }
      previousLast = lastOffsetOf(h)
      position += length + LOG_OVERHEAD_BYTES
    }
    return undefined
  }

  /**
   * Validate every batch from the start, rebuilding both indexes as it goes (Kafka's
   * LogSegment.recover). Stops at the first invalid batch or offset regression; truncates nothing.
   */
  recover(gaps: GapRule = allowGaps): SegmentScan {
    // Rebuild from nothing: whatever the old index files hold (zeros, garbage) is not read.
    this.#offsetIndexOpen?.close()
    this.#timeIndexOpen?.close()
    this.#offsetIndexOpen = undefined
    this.#timeIndexOpen = undefined
    const base = path.join(this.dir, segmentName(this.baseOffset))
    io.unlinkIfExists(base + INDEX_SUFFIX)
    io.unlinkIfExists(base + TIME_INDEX_SUFFIX)
    this.#openIndexes(true)
    this.#bytesSinceIndexEntry = 0
    this.#maxTimestamp = -1
    this.#offsetOfMaxTimestamp = -1
    const scan = this.#validate(0, this.baseOffset, gaps, (batch, last) => this.#afterBatch(batch.position, batch.size, last, batch.header.maxTimestamp))
    this.#nextOffset = scan.nextOffset
    if (!this.#writable) this.#sealIndexes()
    return scan
  }

  /**
   * Validate batches from `position` (a batch boundary) expecting offsets from `nextOffset` on,
   * without touching anything: the read-only half of `recover()`, for dry runs and verify.
   */
  validate(position = 0, nextOffset = this.baseOffset, gaps: GapRule = allowGaps): SegmentScan {
    return this.#validate(position, nextOffset, gaps, () => {})
  }

  /**
   * baseOffset is outside the CRC, so a flipped bit there shows only in the offsets: as a gap
   * where gaps cannot be (`gaps`), or as a batch that jumped ahead of its neighbours. In the
   * latter case the next batch "goes backwards" while starting exactly where the jumped batch
   * would have ended; the jumped batch is then the damaged one, not its successor.
   */
  #validate(from: number, nextOffset: number, gaps: GapRule, onBatch: (batch: Extract<ScanStep, { kind: 'batch' }>, lastOffset: number) => void): SegmentScan {
    let next = nextOffset
    let validBytes = from
    let batches = 0
    let invalid: SegmentScan['invalid']
    let jumped: { position: number; expected: number; span: number; validBytes: number } | undefined
    for (const step of scanBatches(this.#fd, { from, end: this.#size, maxBatchBytes: this.#options.maxBatchBytes })) {
      const problem = offsetProblem(step, next, this.baseOffset, gaps)
      if (problem !== undefined) {
        if (step.kind === 'batch' && jumped !== undefined && step.header.baseOffset === jumped.expected + jumped.span) {
          invalid = { position: jumped.position, problem: 'bad-offsets', message: `batch claims offsets beyond a gap, but the next batch continues from offset ${jumped.expected}: its baseOffset is damaged` }
          next = jumped.expected
          validBytes = jumped.validBytes
          batches--
        } else invalid = problem
        break
      }
      const batch = step as Extract<ScanStep, { kind: 'batch' }>
      const last = lastOffsetOf(batch.header)
      jumped = batch.header.baseOffset > next ? { position: batch.position, expected: next, span: batch.header.lastOffsetDelta + 1, validBytes } : undefined
      onBatch(batch, last)
      next = last + 1
      validBytes = batch.position + batch.size
      batches++
    }
    return invalid === undefined ? { validBytes, batches, nextOffset: next } : { validBytes, batches, nextOffset: next, invalid }
  }

  /** Cut the `.log` at `position` (a batch boundary) and drop index entries at or past it. */
  truncateTo(position: number, nextOffset: number): void {
    assert(this.#writable, 'truncate a read-only segment')
    io.ftruncate(this.#fd, position)
    this.#size = position
    this.#offsetIndex.truncateTo(nextOffset)
    this.#timeIndex.truncateTo(nextOffset)
    this.#nextOffset = nextOffset
  }

  /**
   * Remove the bytes `[from, to)` (damage found by recovery) from the `.log`, keeping what follows:
   * the file is rewritten beside the old one, fsync'd and renamed over it, so a crash leaves one
   * or the other whole. Indexes must be rebuilt after (call `recover()`).
   */
  cutRange(from: number, to: number): void {
    assert(this.#writable && from < to && to <= this.#size, 'cutRange outside the segment')
    const tmp = this.file + '.repair'
    const fd = io.open(tmp, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, this.#options.fileMode)
    try {
      const chunk = Buffer.allocUnsafe(Math.min(4 * 1024 * 1024, Math.max(this.#size, 1)))
      let written = 0
      for (const [start, end] of [[0, from], [to, this.#size]] as const) {
        for (let p = start; p < end; ) {
          const n = io.preadFully(this.#fd, chunk, 0, Math.min(chunk.length, end - p), p)
          if (n === 0) break
          io.pwriteFully(fd, chunk, 0, n, written)
          written += n
          p += n
        }
      }
      io.fdatasyncSync(fd)
    } catch (err) {
      io.close(fd)
      io.unlinkIfExists(tmp)
      throw err
    }
    io.rename(tmp, this.file)
    io.fsyncDir(this.dir)
    io.close(this.#fd)
    this.#fd = fd
    this.#size = io.fstatSize(fd)
    this.#nextOffset = undefined
  }

  /** Sanity check of both indexes against the `.log` (Kafka's, cheap). */
  sanityCheck(): string | undefined {
    return this.#offsetIndex.sanityCheck(this.#size) ?? this.#timeIndex.sanityCheck()
  }

  /** Make the `.log` data durable. */
  flush(): Promise<void> {
    return io.fdatasync(this.#fd)
  }

  /**
   * Seal the segment at a roll: final time index entry, indexes trimmed and flushed, `.log`
   * fsync'd, so that everything in it is durable before the next segment starts.
   */
  seal(): void {
    if (!this.#writable) return
    io.fdatasyncSync(this.#fd)
    this.#sealIndexes()
    this.#writable = false
  }

  #sealIndexes(): void {
    const timeIndex = this.#timeIndex
    const offsetIndex = this.#offsetIndex
    if (this.#maxTimestamp >= 0) timeIndex.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp, true)
    offsetIndex.flush()
    timeIndex.flush()
    offsetIndex.trim()
    timeIndex.trim()
  }

  /** Close the files (trimming the indexes of a writable segment). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    try {
      // As Kafka's LogSegment.close: the time index ends with the largest timestamp, since a reopen
      // takes it from the last entry; without it, batches after that entry are forgotten by
      // offsetForTimestamp and time retention.
      if (this.#writable && this.#maxTimestamp >= 0) this.#timeIndexOpen?.maybeAppend(this.#maxTimestamp, this.#offsetOfMaxTimestamp, true)
    } finally {
      try {
        this.#offsetIndexOpen?.close()
        this.#timeIndexOpen?.close()
      } finally {
        io.close(this.#fd)
      }
    }
  }

  /** Remove the segment's files (retention). The caller fsyncs the folder. */
  deleteFiles(): void {
    this.close()
    const base = path.join(this.dir, segmentName(this.baseOffset))
    io.unlinkIfExists(base + LOG_SUFFIX)
    io.unlinkIfExists(base + INDEX_SUFFIX)
    io.unlinkIfExists(base + TIME_INDEX_SUFFIX)
  }
}

/**
 * Whether offsets `[from, to]` may be missing between two batches: always in a compacted
 * partition; elsewhere only where repair dropped damaged batches (and recorded it).
 */
export type GapRule = (from: number, to: number) => boolean
export const allowGaps: GapRule = () => true

/** A valid batch whose offsets go backwards (or before the segment), or skip where they may not, is damage too. */
function offsetProblem(step: ScanStep, expectedNext: number, segmentBase: number, gaps: GapRule): SegmentScan['invalid'] {
  if (step.kind === 'invalid') return { position: step.position, problem: step.problem, message: step.message }
  if (step.header.baseOffset < expectedNext || step.header.baseOffset < segmentBase) {
    return {
      position: step.position,
      problem: 'bad-offsets',
      message: `batch starts at offset ${step.header.baseOffset}, expected ${expectedNext} or more`,
    }
  }
  if (step.header.baseOffset > expectedNext && !gaps(expectedNext, step.header.baseOffset - 1)) {
    return {
      position: step.position,
      problem: 'bad-offsets',
      message: `batch starts at offset ${step.header.baseOffset}, expected ${expectedNext}: offsets cannot skip in this partition`,
    }
  }
  // A relative offset must fit the indexes' u32 (a segment rolls before it would not).
  if (lastOffsetOf(step.header) - segmentBase > 0xffff_ffff) {
    return {
      position: step.position,
      problem: 'bad-offsets',
      message: `batch ends at offset ${lastOffsetOf(step.header)}, beyond the segment's range [${segmentBase}, ${segmentBase + 0xffff_ffff}]`,
    }
  }
  return undefined
}

