/**
 * Recovery of a partition's segments after an unclean shutdown.
 *
 * Every batch from the recovery point on is validated (bounds, magic, CRC, offsets increasing)
 * while the segment's indexes are rebuilt. At the first invalid batch, the question is whether
 * the damage is a torn write or media corruption:
 *
 * | valid batch after the damage? | damage in the last segment, within `maxUnsyncedBytes` of its end? | verdict    | action                                   |
 * |-------------------------------|-------------------------------------------------------------------|------------|------------------------------------------|
 * | no                            | —                                                                 | torn write | cut at the damage, report it             |
 * | yes                           | yes                                                               | torn write | cut at the damage, report it             |
 * | yes                           | no                                                                | corruption | ERR_CORRUPT_RECORD, or with `repair`: drop only the damaged bytes, keep what follows, report the offsets lost |
 *
 * A crash can leave unsynced writes half on disk only within the last `maxUnsyncedBytes` (the
 * writer never lets more than that wait for an fsync), so damage further back, followed by
 * batches that a later fsync made durable, cannot be a torn write: cutting there would throw
 * away acknowledged data (as NATS JetStream once did after a single flipped bit).
 */
import { CorruptRecordError } from '../errors.js'
import { findNextValidBatch, readBatchHeader, BATCH_HEADER_BYTES, type GapRule, type Segment } from '../segment/index.js'
import * as io from '../file-io.js'

/** What recovery did, returned by `Partition.open` and emitted as its `recovery` event. */
export interface RecoveryReport {
  /** A clean-shutdown marker was found and the log trusted without a scan. */
  clean: boolean
  /** Segments validated batch by batch. */
  segmentsRecovered: number
  /** Segments whose indexes were rebuilt from the `.log`. */
  indexesRebuilt: number
  /** Bytes cut from the end of the log (torn writes). */
  truncatedBytes: number
  /** First offset cut, if anything was. */
  truncatedFromOffset: number | undefined
  /** Whole segments removed because they held nothing valid after a torn write. */
  segmentsRemoved: number
  /** With `repair: true`: the damaged ranges dropped, and the offsets lost with them. */
  repaired: RepairedRange[]
}

export interface RepairedRange {
  file: string
  position: number
  bytes: number
  /** Offsets `[lostFromOffset, lostToOffset]` are gone (offsets after them keep their numbers). */
  lostFromOffset: number
  lostToOffset: number
}

export function emptyReport(clean: boolean): RecoveryReport {
  return { clean, segmentsRecovered: 0, indexesRebuilt: 0, truncatedBytes: 0, truncatedFromOffset: undefined, segmentsRemoved: 0, repaired: [] }
}

interface Resync {
  segmentIndex: number
  position: number
  baseOffset: number
}

export interface RecoveryLimits {
  maxBatchBytes: number
  maxUnsyncedBytes: number
  repair: boolean
  /** Which gaps between batches are legitimate (see offset-gaps.ts). */
  gaps: GapRule
  /** Record offsets dropped by repair, so later opens accept the gap. */
  recordGap?: (from: number, to: number) => void
}

/**
 * Recover `segments[from..]` in place (they must be open writable). Segments removed are spliced
 * out of the array and their files deleted. Throws `CorruptRecordError` on corruption unless
 * `limits.repair`. With `apply: false` nothing is changed (segments may be read-only): the report
 * says what recovery would do.
 */
export function recoverSegments(segments: Segment[], from: number, limits: RecoveryLimits, report: RecoveryReport, apply = true): void {
  let i = from
  // Where a dry run resumes inside a segment after a damaged range it would have dropped.
  let resumeAt: { position: number; offset: number } | undefined
  // Each pass either advances i or moves past at least one damaged byte, so this terminates.
  while (i < segments.length) {
    const segment = segments[i] as Segment
    const scan = apply ? segment.recover(limits.gaps) : segment.validate(resumeAt?.position ?? 0, resumeAt?.offset ?? segment.baseOffset, limits.gaps)
    if (resumeAt === undefined) report.segmentsRecovered++
    if (apply) report.indexesRebuilt++
    resumeAt = undefined
    if (scan.invalid === undefined) {
      i++
      continue
    }
    const damageAt = scan.invalid.position
    let tailBytes = segment.size - damageAt
    for (let j = i + 1; j < segments.length; j++) tailBytes += (segments[j] as Segment).size
    const resync = findResync(segments, i, damageAt, scan.nextOffset, limits.maxBatchBytes)
    // Only the last segment can hold unsynced writes: a roll fsyncs a segment before the next
    // one starts, so damage in a sealed segment is never a torn write.
    const tornWindow = i === segments.length - 1 && tailBytes <= limits.maxUnsyncedBytes
    if (resync === undefined || tornWindow) {
      report.truncatedBytes += tailBytes
      report.truncatedFromOffset ??= scan.nextOffset
      if (apply) {
        segment.truncateTo(damageAt, scan.nextOffset)
        report.segmentsRemoved += removeAfter(segments, i)
      } else {
        report.segmentsRemoved += segments.length - i - 1
      }
      return
    }
    const resyncSegment = segments[resync.segmentIndex] as Segment
    if (!limits.repair) {
      throw new CorruptRecordError(
        `Cannot open partition: ${segment.file} is damaged at position ${damageAt} (${scan.invalid.message}), ` +
          `and valid batches follow at ${resyncSegment.file} position ${resync.position} (offset ${resync.baseOffset}). ` +
          `Offsets ${scan.nextOffset} to ${resync.baseOffset - 1} are affected. ` +
          `Run 'seglog recover <dir>' (or open with repair: true) to keep the valid batches and drop only the damaged bytes.`,
        { file: segment.file, position: damageAt, offsetBefore: scan.nextOffset - 1, offsetAfter: resync.baseOffset },
      )
    }
    const sameSegment = resync.segmentIndex === i
    // The bytes dropped: up to the resync point, counting the segments in between whole.
    let droppedBytes = resync.position - damageAt
    for (let j = i; j < resync.segmentIndex; j++) droppedBytes += (segments[j] as Segment).size
    report.repaired.push({
      file: segment.file,
      position: damageAt,
      bytes: droppedBytes,
      lostFromOffset: scan.nextOffset,
      lostToOffset: resync.baseOffset - 1,
    })
    if (apply) limits.recordGap?.(scan.nextOffset, resync.baseOffset - 1)
    if (!apply) {
      report.segmentsRemoved += resync.segmentIndex - i - (sameSegment ? 0 : 1)
      i = resync.segmentIndex
      resumeAt = { position: resync.position, offset: resync.baseOffset }
      continue
    }
    if (sameSegment) {
      segment.cutRange(damageAt, resync.position)
      continue // rescan this segment: there may be more damage after the resync point
    }
    segment.truncateTo(damageAt, scan.nextOffset)
    // Segments between the damage and the resync point hold nothing valid.
    for (let j = resync.segmentIndex - 1; j > i; j--) {
      ;(segments[j] as Segment).deleteFiles()
      segments.splice(j, 1)
      report.segmentsRemoved++
    }
    const next = segments[i + 1] as Segment
    if (resync.position > 0) next.cutRange(0, resync.position)
    i++
  }
}

function findResync(segments: Segment[], i: number, damageAt: number, minOffset: number, maxBatchBytes: number): Resync | undefined {
  const header = Buffer.allocUnsafe(BATCH_HEADER_BYTES)
  for (let j = i; j < segments.length; j++) {
    const segment = segments[j] as Segment
    const start = j === i ? damageAt + 1 : 0
    const position = findNextValidBatch(segment.fd, start, minOffset, { end: segment.size, maxBatchBytes })
    if (position >= 0) {
      io.preadFully(segment.fd, header, 0, BATCH_HEADER_BYTES, position)
      return { segmentIndex: j, position, baseOffset: readBatchHeader(header, 0).baseOffset }
    }
  }
  return undefined
}

function removeAfter(segments: Segment[], i: number): number {
  let removed = 0
  while (segments.length > i + 1) {
    ;(segments.pop() as Segment).deleteFiles()
    removed++
  }
  return removed
}
