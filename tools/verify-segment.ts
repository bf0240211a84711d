/**
 * `seglog verify` for one segment: its `.log` scanned batch by batch (bounds, magic, CRC-32C, then
 * every record decoded), offsets and leader epochs followed across batches, and its `.index` and
 * `.timeindex` checked against the batches as the scan passes them (verify-index.ts).
 *
 * Memory stays at one scan chunk (the batch scanner reads 1 MiB at a time, more only for a larger
 * batch, up to --max-batch-bytes) plus one index chunk, whatever the segment's size.
 *
 * Invalid bytes are judged as recovery will treat them (verify-damage.ts): the scan looks for the
 * next valid batch after them (at an offset not below the expected one), as recovery does, and the
 * verdict is a torn tail or corruption, with what 'seglog recover' will do about it.
 * After damage with a valid batch behind it, the scan goes on from that batch, as repair would.
 * In the last segment, batches from the partition's published durable offset on belong to a writer
 * still at work (written, not yet fsync'd): they are neither checked nor counted.
 */
import { CorruptRecordError, UnsupportedFormatError } from '../src/errors.js'
import * as io from '../src/file-io.js'
import {
  BATCH_HEADER_BYTES,
  codecOf,
  decodeRecords,
  findNextValidBatch,
  lastOffsetOf,
  readBatchHeader,
  scanBatches,
  type InvalidBytes,
  type LogRecord,
  type ScannedBatch,
  type ScanStep,
} from '../src/segment/index.js'
import { CliError, describeError, isOperatingError } from './cli.js'
import { closeInputFile, openInputFile, type InputFile } from './input-file.js'
import { judgeDamage } from './verify-damage.js'
import { OffsetIndexCheck, openIndexFile, TimeIndexCheck, type SkippedRange } from './verify-index.js'
import type { Checked, ReportProblem } from './verify-problem.js'

/** Largest offset − base offset a segment holds: index entries store it as a u32. */
const MAX_RELATIVE_OFFSET = 0xffff_ffff
/** Kafka's NO_PARTITION_LEADER_EPOCH: the smallest valid partitionLeaderEpoch. */
const NO_LEADER_EPOCH = -1

/** The largest partitionLeaderEpoch seen so far in a partition (epochs never decrease). */
export interface LeaderEpoch {
  epoch: number
  file: string
  position: number
}

export interface SegmentTarget {
  /** The `.log` file, as reached from the command line. */
  file: string
  /**
   * Whether offsets `[from, to]` may be missing: in a compacted partition (it has a
   * `cleaner-offset` checkpoint) or where repair recorded the gap (`offset-gaps`). Absent: never.
   */
  gapAllowed?: (from: number, to: number) => boolean
  /** Base offset from a 20-digit name; undefined for a standalone file (its first batch's). */
  nameBaseOffset: number | undefined
  /** Part of a partition folder (else a standalone file, checked alone). */
  inPartition: boolean
  /** The last segment of its partition, or a standalone file: where a torn write can be. */
  last: boolean
  /** Bytes of the partition's segments after this one (where recovery's torn-write window reaches). */
  laterBytes: number
  /** Offsets from here on belong to a running writer (its published durable offset). Last segment only. */
  durableOffset: number | undefined
  /** Where the previous segment's offsets end (its last offset + 1), if known, and how to say so. */
  previous: { nextOffset: number; description: string } | undefined
  /** Leader epoch so far in the partition; updated as batches are checked. */
  leaderEpoch: LeaderEpoch | undefined
}

export interface SegmentVerifyOptions {
  maxBatchBytes: number
  maxUnsyncedBytes: number
  report: ReportProblem
  /** Write out the problems reported so far (called between batches). */
  drain: () => Promise<void>
  /** `bytes` of this file are done. */
  progress: (bytes: number) => void
  checked: Checked
}

export interface SegmentVerified {
  /** One past the last offset, for the next segment's continuity; undefined if damage hides it. */
  nextOffset: number | undefined
  /** The last offset the segment holds, if any valid batch. */
  lastOffset: number | undefined
  leaderEpoch: LeaderEpoch | undefined
}

/** The steps of a scan, with a read error worded for the command line. */
function* scanSteps(input: InputFile, from: number, maxBatchBytes: number): Generator<ScanStep, void, undefined> {
  const steps = scanBatches(input.fd, { from, end: input.size, maxBatchBytes })
  for (;;) {
    let next: IteratorResult<ScanStep, void>
    try {
      next = steps.next()
    } catch (err) {
      throw readError(input, err)
    }
    if (next.done === true) return
    yield next.value
  }
}

function readError(input: InputFile, err: unknown): unknown {
  // An I/O error is the user's to act on; anything else is a bug, reported with its stack.
  if (!isOperatingError(err)) return err
  return new CliError(`cannot read '${input.path}': ${describeError(err)}`, { cause: err })
}

/** The next valid batch at or after `from` whose offsets are not below `minOffset`, if any. */
function resyncAfter(input: InputFile, from: number, minOffset: number, maxBatchBytes: number): { position: number; baseOffset: number } | undefined {
  try {
    const position = findNextValidBatch(input.fd, from, minOffset, { end: input.size, maxBatchBytes })
    if (position < 0) return undefined
    const header = Buffer.allocUnsafe(BATCH_HEADER_BYTES)
    io.preadFully(input.fd, header, 0, BATCH_HEADER_BYTES, position)
    return { position, baseOffset: readBatchHeader(header, 0).baseOffset }
  } catch (err) {
    throw readError(input, err)
  }
}

/** Verify one segment; problems go to `options.report` as they are found. */
export async function verifySegment(target: SegmentTarget, options: SegmentVerifyOptions): Promise<SegmentVerified> {
  const input = openInputFile(target.file)
  options.checked.files++
  try {
    const verifier = new SegmentVerifier(target, options, input)
    try {
      return await verifier.run()
    } finally {
      verifier.closeIndexes()
    }
  } finally {
    closeInputFile(input)
  }
}

class SegmentVerifier {
  readonly #t: SegmentTarget
  readonly #o: SegmentVerifyOptions
  readonly #input: InputFile
  #offsetIndex: OffsetIndexCheck | undefined
  #timeIndex: TimeIndexCheck | undefined
  /** The offset the next batch should start at, and what says so (for messages). */
  #expected: number | undefined
  #expectedBecause = ''
  #lastOffset: number | undefined
  #epoch: LeaderEpoch | undefined
  #batches = 0
  /** A standalone file's base offset: its first valid batch's. */
  #firstBaseOffset: number | undefined
  /** Inside a run of batches whose offsets go backwards: reported once, at its first batch. */
  #overlapping = false
  #indexesOpened = false
  /** Byte and offset ranges the scan does not vouch for, so the indexes are not judged there. */
  readonly #skips: SkippedRange[] = []

  constructor(target: SegmentTarget, options: SegmentVerifyOptions, input: InputFile) {
    this.#t = target
    this.#o = options
    this.#input = input
    this.#epoch = target.leaderEpoch
    if (target.previous !== undefined) {
      this.#expected = target.previous.nextOffset
      this.#expectedBecause = target.previous.description
    } else if (target.nameBaseOffset !== undefined) {
      this.#expected = target.nameBaseOffset
      this.#expectedBecause = `the segment's name says it starts at offset ${target.nameBaseOffset}`
    }
  }

  #report(position: number, kind: Parameters<ReportProblem>[0]['kind'], message: string): void {
    this.#o.report({ file: this.#t.file, position, kind, message })
  }

  async run(): Promise<SegmentVerified> {
    const t = this.#t
    const { maxBatchBytes } = this.#o
    const previous = t.previous
    if (previous !== undefined && t.nameBaseOffset !== undefined && t.nameBaseOffset < previous.nextOffset) {
      this.#report(0, 'offset-overlap', `the segment's name says it starts at offset ${t.nameBaseOffset}, but ${previous.description}`)
      // Batches that overlap as the name does are the same problem: reported once.
      this.#overlapping = true
    }
    // A standalone file's indexes count from its first batch's offset: open them at that batch.
    if (t.nameBaseOffset !== undefined) this.#openIndexes(t.nameBaseOffset)
    let from = 0
    let checkedBytes = 0
    let damagedToEnd = false
    scan: for (;;) {
      for (const scanned of scanSteps(this.#input, from, maxBatchBytes)) {
        const step = this.#outOfRange(scanned) ?? scanned
        if (step.kind === 'batch') {
          // Past the writer's durable offset is its work in progress; but only a batch that
          // starts exactly where the checked ones end can be that (a baseOffset that jumped
          // there is a flipped bit, checked as usual).
          const expectedHere = this.#expected ?? step.header.baseOffset
          if (t.durableOffset !== undefined && step.header.baseOffset >= t.durableOffset && step.header.baseOffset === expectedHere) {
            this.#skip(this.#unchecked(step.position))
            break scan
          }
          this.#batch(step)
          checkedBytes = step.position + step.size
          this.#o.progress(checkedBytes)
          await this.#o.drain()
          continue
        }
        if (t.durableOffset !== undefined && this.#expected !== undefined && this.#expected >= t.durableOffset) {
          this.#skip(this.#unchecked(step.position))
          break scan
        }
        const resync = this.#damage(step)
        checkedBytes = resync?.position ?? this.#input.size
        await this.#o.drain()
        if (resync === undefined) {
          this.#skip({ fromPosition: step.position, toPosition: Infinity, fromOffset: this.#expected ?? 0, toOffset: Infinity })
          damagedToEnd = true
          break scan
        }
        this.#skip({ fromPosition: step.position, toPosition: resync.position, fromOffset: this.#expected ?? 0, toOffset: resync.baseOffset })
        // The offsets in between are reported lost with the damage, not again as a gap.
        this.#expected = resync.baseOffset
        from = resync.position
        continue scan
      }
      break
    }
    this.#o.checked.bytes += checkedBytes
    if (this.#batches === 0) this.#noBatches()
    this.#openIndexes(t.nameBaseOffset ?? 0) // a standalone file without a valid batch: check its indexes all the same
    this.#offsetIndex?.finish(this.#input.size)
    this.#timeIndex?.finish()
    await this.#o.drain()
    let nextOffset = damagedToEnd ? undefined : this.#expected
    // An empty segment passes its name on: the next segment should start there.
    if (nextOffset !== undefined && t.nameBaseOffset !== undefined) nextOffset = Math.max(nextOffset, t.nameBaseOffset)
    return { nextOffset, lastOffset: this.#lastOffset, leaderEpoch: this.#epoch }
  }

  /**
   * A batch whose offsets do not fit its segment (relative offsets are u32) is damage to recovery
   * (segment.ts), whatever its CRC says (baseOffset is outside the CRC): judged as invalid bytes.
   */
  #outOfRange(step: ScanStep): InvalidBytes | undefined {
    if (step.kind !== 'batch') return undefined
    const base = this.#t.nameBaseOffset ?? this.#firstBaseOffset ?? step.header.baseOffset
    const last = lastOffsetOf(step.header)
    if (last - base <= MAX_RELATIVE_OFFSET) return undefined
    return {
      kind: 'invalid',
      position: step.position,
      problem: 'bad-offsets',
      message: `batch ends at offset ${last}, beyond the segment's range [${base}, ${base + MAX_RELATIVE_OFFSET}]`,
    }
  }

  /** Release the index files (after an I/O error too; `finish` has closed them otherwise). */
  closeIndexes(): void {
    this.#offsetIndex?.close()
    this.#timeIndex?.close()
  }

  /** Everything from `position` on is a running writer's. */
  #unchecked(position: number): SkippedRange {
    return { fromPosition: position, toPosition: Infinity, fromOffset: this.#expected ?? 0, toOffset: Infinity }
  }

  #skip(range: SkippedRange): void {
    this.#skips.push(range)
    this.#offsetIndex?.skip(range)
    this.#timeIndex?.skip(range)
  }

  #openIndexes(baseOffset: number): void {
    if (this.#indexesOpened) return
    this.#indexesOpened = true
    const stem = this.#t.file.slice(0, -'.log'.length)
    const ctx = (file: string) => ({
      file,
      baseOffset,
      sealed: !this.#t.last,
      writerActive: this.#t.durableOffset !== undefined,
      report: this.#o.report,
    })
    const offsetFile = openIndexFile(stem + '.index', this.#o.report)
    if (offsetFile !== undefined) {
      this.#o.checked.files++
      this.#offsetIndex = new OffsetIndexCheck(ctx(stem + '.index'), offsetFile)
    }
    const timeFile = openIndexFile(stem + '.timeindex', this.#o.report)
    if (timeFile !== undefined) {
      this.#o.checked.files++
      this.#timeIndex = new TimeIndexCheck(ctx(stem + '.timeindex'), timeFile)
    }
    for (const range of this.#skips) {
      this.#offsetIndex?.skip(range)
      this.#timeIndex?.skip(range)
    }
  }

  /** A segment with no valid batch: its name still claims offsets, which may leave a gap. */
  #noBatches(): void {
    const t = this.#t
    if (t.previous !== undefined && t.nameBaseOffset !== undefined && t.nameBaseOffset > t.previous.nextOffset && t.gapAllowed?.(t.previous.nextOffset, t.nameBaseOffset - 1) !== true) {
      this.#report(
        0,
        'offset-gap',
        `offsets ${t.previous.nextOffset} to ${t.nameBaseOffset - 1} are missing: the segment's name says it starts at offset ${t.nameBaseOffset}, ` +
          `and ${t.previous.description}`,
      )
    }
  }

  #batch(step: ScannedBatch): void {
    const h = step.header
    const last = lastOffsetOf(h)
    if (this.#batches === 0 && this.#t.nameBaseOffset === undefined) {
      this.#firstBaseOffset = h.baseOffset
      this.#openIndexes(h.baseOffset)
    }
    this.#batches++
    this.#o.checked.batches++
    this.#offsets(step.position, h.baseOffset, last)
    this.#leaderEpoch(step.position, h.partitionLeaderEpoch)
    this.#records(step, last)
    this.#offsetIndex?.batch(step.position, h.baseOffset, last)
    this.#timeIndex?.batch(step.position, h.baseOffset, last, h.maxTimestamp)
    this.#lastOffset = last
    this.#expected = Math.max(this.#expected ?? 0, last + 1)
    this.#expectedBecause = `the previous batch ends at offset ${this.#expected - 1}`
  }

  #offsets(position: number, baseOffset: number, lastOffset: number): void {
    const nameBase = this.#t.nameBaseOffset
    if (this.#batches === 1 && nameBase !== undefined && baseOffset < nameBase) {
      this.#report(position, 'offset-overlap', `the first batch holds offsets ${baseOffset} to ${lastOffset}, below the segment's base offset ${nameBase} (its name)`)
      this.#overlapping = true
      return
    }
    const expected = this.#expected
    if (expected === undefined) return
    const overlapping = this.#overlapping
    this.#overlapping = baseOffset < expected
    if (baseOffset > expected && this.#t.gapAllowed?.(expected, baseOffset - 1) !== true) {
      this.#report(position, 'offset-gap', `offsets ${expected} to ${baseOffset - 1} are missing: the batch here starts at offset ${baseOffset}, and ${this.#expectedBecause}`)
    } else if (baseOffset < expected && !overlapping) {
      this.#report(
        position,
        'offset-overlap',
        `the batch here holds offsets ${baseOffset} to ${lastOffset}, but ${this.#expectedBecause}; ` + `open and 'seglog recover' treat a batch whose offsets go backwards as damage`,
      )
    }
  }

  #leaderEpoch(position: number, epoch: number): void {
    if (epoch < NO_LEADER_EPOCH) {
      this.#report(position, 'leader-epoch', `partitionLeaderEpoch is ${epoch}; it is ${NO_LEADER_EPOCH} (none) or more (the CRC does not cover this field)`)
      return
    }
    const prev = this.#epoch
    if (prev !== undefined && epoch < prev.epoch) {
      const where = prev.file === this.#t.file ? `position ${prev.position}` : `${prev.file} position ${prev.position}`
      this.#report(
        position,
        'leader-epoch',
        `partitionLeaderEpoch ${epoch} is below the ${prev.epoch} of the batch at ${where}: epochs never decrease in a partition, ` +
          `so one of the two was damaged (the CRC does not cover this field)`,
      )
    }
    // After a report, follow the later value: one damaged batch then makes one report, not one per batch.
    this.#epoch = { epoch, file: this.#t.file, position }
  }

  #records(step: ScannedBatch, lastOffset: number): void {
    const h = step.header
    let records: LogRecord[]
    try {
      records = decodeRecords(step.buffer, step.at, h, { file: this.#t.file, position: step.position, maxBatchBytes: this.#o.maxBatchBytes })
    } catch (err) {
      if (err instanceof UnsupportedFormatError) {
        this.#report(
          step.position,
          'unsupported-codec',
          `the batch holding offsets ${h.baseOffset} to ${lastOffset} is compressed with ${codecOf(h)}, which seglog does not read (only none and gzip): ` +
            `its ${h.recordsCount} records were not checked`,
        )
        return
      }
      if (err instanceof CorruptRecordError) {
        this.#report(step.position, 'bad-record', err.message)
        return
      }
      throw err
    }
    let prev = h.baseOffset - 1
    for (const [i, record] of records.entries()) {
      if (record.offset <= prev || record.offset > lastOffset) {
        this.#report(
          step.position,
          'bad-record',
          `record ${i} of the batch holding offsets ${h.baseOffset} to ${lastOffset} has offset ${record.offset}` +
            (record.offset <= prev ? `, not above the previous record's ${prev}` : ', outside the batch'),
        )
        return
      }
      prev = record.offset
    }
    this.#o.checked.records += records.length
  }

  /** Report invalid bytes at `step.position`; returns the valid batch to go on from, if any. */
  #damage(step: InvalidBytes): { position: number; baseOffset: number } | undefined {
    const t = this.#t
    const resync = resyncAfter(this.#input, step.position + 1, this.#expected ?? 0, this.#o.maxBatchBytes)
    const verdict = judgeDamage({
      position: step.position,
      reason: `${step.problem}: ${step.message}`,
      size: this.#input.size,
      resync,
      expectedOffset: this.#expected,
      last: t.last,
      inPartition: t.inPartition,
      laterBytes: t.laterBytes,
      maxUnsyncedBytes: this.#o.maxUnsyncedBytes,
    })
    this.#report(step.position, verdict.kind, verdict.message)
    return verdict.goOn ? resync : undefined
  }
}
