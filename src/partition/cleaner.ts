/**
 * Log compaction (Kafka's `cleanup.policy=compact`): rewrite the sealed segments of a partition
 * so that only the newest record of each key survives, offsets unchanged.
 *
 * One pass:
 *   1. Map: scan the dirty part (from the first dirty offset) and record xxHash64(key) → newest
 *      offset in a fixed-size map (offset-map.ts). When the map fills, the pass covers only the
 *      offsets mapped so far (`upper`); the next pass continues from there.
 *   2. Rewrite every sealed segment below `upper`, oldest first, keeping a record if its offset is
 *      ≥ `upper`, or it has no key, or it is the newest of its key. A tombstone (null value)
 *      is kept until its batch's delete horizon (set at its first compaction to now +
 *      `deleteRetentionMs`) has passed. The newest batch of each idempotent producer is kept,
 *      emptied if need be, so producer state survives. Untouched batches are copied as they are.
 *   3. Swap each segment crash-safely: write `<base>.log.cleaned`, fsync, rename to
 *      `<base>.log.swap`, fsync the folder, rename over `<base>.log`, fsync the folder. Open
 *      deletes a `.cleaned` (an unfinished rewrite) and completes a `.swap` (a finished one).
 *
 * Oldest-first swapping keeps the visible key → value state the same after a crash at any
 * point: a record is dropped only when a newer one of its key exists in a later segment, which
 * is either not yet rewritten or already rewritten, keeping that newer record either way; and a
 * tombstone gets its horizon only after the older records of its key are gone.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Hashes } from '../hash.js'
import * as io from '../file-io.js'
import {
  codecOf,
  decodeRecords,
  encodeBatch,
  hasDeleteHorizon,
  isControlBatch,
  isTransactionalBatch,
  lastOffsetOf,
  LOG_SUFFIX,
  scanBatches,
  Segment,
  segmentName,
  INDEX_SUFFIX,
  TIME_INDEX_SUFFIX,
  type BatchHeader,
  type LogRecord,
  type SegmentOptions,
} from '../segment/index.js'
import { OffsetMap } from './offset-map.js'

export const CLEANED_SUFFIX = '.cleaned'
export const SWAP_SUFFIX = '.swap'
const WRITE_CHUNK_BYTES = 1024 * 1024

export interface CleanerContext {
  dir: string
  /** The partition's current segments; the last is the active one and is never touched. */
  segments(): readonly Segment[]
  /** Put `fresh` in place of `old` in the partition's list (same base offset). */
  replace(old: Segment, fresh: Segment | undefined): void
  segmentOptions: SegmentOptions
  maxBatchBytes: number
  fileMode: number
  hashes: Hashes
  /** Last offset of the newest batch of each idempotent producer: never dropped. */
  producerLastOffsets(): ReadonlySet<number>
  deleteRetentionMs: number
  bufferBytes: number
  /** Checked between batches: stop early (the partition is closing). */
  aborted(): boolean
}

export interface CleanResult {
  passes: number
  segmentsRewritten: number
  bytesBefore: number
  bytesAfter: number
  recordsRemoved: number
  tombstonesRemoved: number
  /** Everything below this offset is compacted. */
  firstDirtyOffset: number
}

/**
 * Compact the sealed segments from `firstDirty` on. With `sweep`, when nothing is dirty, still
 * rewrite the compacted part to drop tombstones whose delete horizon has passed.
 */
export async function clean(ctx: CleanerContext, firstDirty: number, sweep = false): Promise<CleanResult> {
  const result: CleanResult = { passes: 0, segmentsRewritten: 0, bytesBefore: 0, bytesAfter: 0, recordsRemoved: 0, tombstonesRemoved: 0, firstDirtyOffset: firstDirty }
  const map = new OffsetMap(ctx.bufferBytes)
  for (;;) {
    const all = ctx.segments()
    const activeBase = (all[all.length - 1] as Segment).baseOffset
    const sealed = all.slice(0, -1)
    if (sealed.length === 0 || result.firstDirtyOffset >= activeBase) break
    map.clear()
    const upper = await buildMap(ctx, sealed, result.firstDirtyOffset, activeBase, map)
    if (upper <= result.firstDirtyOffset || ctx.aborted()) break
    result.passes++
    const now = Date.now()
    const keep = ctx.producerLastOffsets()
    for (const segment of sealed) {
      if (segment.baseOffset >= upper) break
      if (ctx.aborted()) return result
      await rewrite(ctx, segment, map, upper, now, keep, result)
    }
    result.firstDirtyOffset = upper
    if (upper >= activeBase) break
  }
  if (sweep && result.passes === 0 && !ctx.aborted()) {
    // An empty map keeps every record; only expired tombstones below the dirty part go.
    map.clear()
    const now = Date.now()
    const keep = ctx.producerLastOffsets()
    for (const segment of ctx.segments().slice(0, -1)) {
      if (segment.baseOffset >= result.firstDirtyOffset || ctx.aborted()) break
      await rewrite(ctx, segment, map, result.firstDirtyOffset, now, keep, result)
    }
  }
  return result
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Map keys of the dirty records into `map`; returns the offset the pass covers up to (exclusive):
 * the active segment's base if everything fitted, else the first offset that did not fit.
 */
async function buildMap(ctx: CleanerContext, sealed: readonly Segment[], firstDirty: number, activeBase: number, map: OffsetMap): Promise<number> {
  let sinceYield = 0
  for (const segment of sealed) {
    if (segment.baseOffset < firstDirty && segment.nextOffset() <= firstDirty) continue
    const from = segment.baseOffset >= firstDirty ? 0 : (segment.locate(firstDirty)?.position ?? segment.size)
    for (const step of scanBatches(segment.fd, { from, end: segment.size, maxBatchBytes: ctx.maxBatchBytes })) {
      if (step.kind === 'invalid') break
      if (isControlBatch(step.header)) continue
      const records = decodeRecords(step.buffer, step.at, step.header, { file: segment.file, position: step.position, maxBatchBytes: ctx.maxBatchBytes }, firstDirty)
      for (const r of records) {
        if (r.key === null) continue
        if (map.isFull) return r.offset
        map.put(ctx.hashes.h64(r.key), r.offset)
      }
      sinceYield += step.size
      if (sinceYield > WRITE_CHUNK_BYTES) {
        sinceYield = 0
        await yieldToEventLoop()
        if (ctx.aborted()) return firstDirty
      }
    }
  }
  return activeBase
}

/** Rewrite one sealed segment without its superseded records, and swap it in. */
async function rewrite(
  ctx: CleanerContext,
  segment: Segment,
  map: OffsetMap,
  upper: number,
  now: number,
  keepProducerBatch: ReadonlySet<number>,
  result: CleanResult,
): Promise<void> {
  const base = path.join(ctx.dir, segmentName(segment.baseOffset))
  const cleaned = base + LOG_SUFFIX + CLEANED_SUFFIX
  const fd = io.open(cleaned, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, ctx.fileMode)
  let written = 0
  let changed = false
  const out = Buffer.allocUnsafe(WRITE_CHUNK_BYTES)
  let buffered = 0
  const emit = (bytes: Buffer): void => {
    if (buffered + bytes.length > out.length) {
      io.pwriteFully(fd, out, 0, buffered, written - buffered)
      buffered = 0
    }
    if (bytes.length > out.length) {
      io.pwriteFully(fd, bytes, 0, bytes.length, written)
    } else {
      bytes.copy(out, buffered)
      buffered += bytes.length
    }
    written += bytes.length
  }
  try {
    let sinceYield = 0
    for (const step of scanBatches(segment.fd, { end: segment.size, maxBatchBytes: ctx.maxBatchBytes })) {
      if (step.kind === 'invalid') throw new Error(`Cannot compact ${segment.file}: ${step.message} at position ${step.position}; run 'seglog verify'`)
      const original = step.buffer.subarray(step.at, step.at + step.size)
      const replacement = cleanBatch(ctx, segment.file, step.position, original, step.header, map, upper, now, keepProducerBatch, result)
      if (replacement !== original) changed = true
      if (replacement !== undefined) emit(replacement)
      sinceYield += step.size
      if (sinceYield > WRITE_CHUNK_BYTES) {
        sinceYield = 0
        await yieldToEventLoop()
        if (ctx.aborted()) {
          io.close(fd)
          io.unlinkIfExists(cleaned)
          return
        }
      }
    }
    if (buffered > 0) io.pwriteFully(fd, out, 0, buffered, written - buffered)
    io.fdatasyncSync(fd)
  } catch (err) {
    io.close(fd)
    io.unlinkIfExists(cleaned)
    throw err
  }
  io.close(fd)
  result.bytesBefore += segment.size
  result.bytesAfter += changed ? written : segment.size
  if (!changed) {
    io.unlink(cleaned)
    return
  }
  // The swap: after the rename to .swap the new content is complete and will replace the old
  // one on any later open, even if we crash before the final rename. The old indexes go before
  // that rename: while the .swap is there, open drops them again; once it is gone, they are gone
  // (a crash between the rename and the unlinks left them describing the old content).
  io.rename(cleaned, base + LOG_SUFFIX + SWAP_SUFFIX)
  io.fsyncDir(ctx.dir)
  io.unlinkIfExists(base + INDEX_SUFFIX)
  io.unlinkIfExists(base + TIME_INDEX_SUFFIX)
  io.rename(base + LOG_SUFFIX + SWAP_SUFFIX, base + LOG_SUFFIX)
  io.fsyncDir(ctx.dir)
  const fresh = Segment.open(ctx.dir, segment.baseOffset, ctx.segmentOptions)
  fresh.recover() // indexes for the new content
  ctx.replace(segment, fresh)
  segment.close()
  result.segmentsRewritten++
}

/**
 * The batch to write in place of `original`: itself when nothing changes, a re-encoded batch
 * with the survivors (same offsets, producer fields, codec), an empty batch for a producer's
 * newest batch, or undefined to drop it.
 */
function cleanBatch(
  ctx: CleanerContext,
  file: string,
  position: number,
  original: Buffer,
  header: BatchHeader,
  map: OffsetMap,
  upper: number,
  now: number,
  keepProducerBatch: ReadonlySet<number>,
  result: CleanResult,
): Buffer | undefined {
  if (isControlBatch(header) || header.baseOffset >= upper) return original
  const records = decodeRecords(original, 0, header, { file, position, maxBatchBytes: ctx.maxBatchBytes })
  const horizonPassed = hasDeleteHorizon(header) && now > header.baseTimestamp
  const survivors: LogRecord[] = []
  let tombstones = 0
  for (const r of records) {
    const newest = r.offset >= upper || r.key === null || map.get(ctx.hashes.h64(r.key)) <= r.offset
    if (!newest) {
      result.recordsRemoved++
      continue
    }
    if (r.value === null) {
      if (horizonPassed) {
        result.tombstonesRemoved++
        result.recordsRemoved++
        continue
      }
      tombstones++
    }
    survivors.push(r)
  }
  const needsHorizon = tombstones > 0 && !hasDeleteHorizon(header)
  if (survivors.length === records.length && !needsHorizon) return original
  const producerBatch = header.producerId >= 0 && keepProducerBatch.has(lastOffsetOf(header))
  if (survivors.length === 0 && !producerBatch) return undefined
  const codec = codecOf(header)
  const batch = encodeBatch(
    survivors.map((r) => ({ key: r.key, value: r.value, headers: r.headers, timestamp: r.timestamp })),
    {
      baseOffset: header.baseOffset,
      offsetDeltas: survivors.map((r) => r.offset - header.baseOffset),
      lastOffsetDelta: header.lastOffsetDelta,
      producerId: header.producerId,
      producerEpoch: header.producerEpoch,
      baseSequence: header.baseSequence,
      isTransactional: isTransactionalBatch(header),
      compression: codec === 'gzip' ? 'gzip' : 'none',
      maxBatchBytes: ctx.maxBatchBytes,
      maxRecordBytes: ctx.maxBatchBytes,
      ...(tombstones > 0 ? { deleteHorizonMs: hasDeleteHorizon(header) ? header.baseTimestamp : now + ctx.deleteRetentionMs } : {}),
    },
  )
  return batch
}

/**
 * Finish or roll back compactions a crash interrupted: a `.log.cleaned` is an unfinished
 * rewrite (deleted); a `.log.swap` is a finished one (renamed over its `.log`, indexes dropped
 * so they are rebuilt). Returns the base offsets of segments swapped in.
 */
export function completeInterruptedSwaps(dir: string): number[] {
  const swapped: number[] = []
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name)
    if (name.endsWith(LOG_SUFFIX + CLEANED_SUFFIX)) io.unlink(file)
    else if (name.endsWith(LOG_SUFFIX + SWAP_SUFFIX)) {
      const log = file.slice(0, -SWAP_SUFFIX.length)
      io.rename(file, log)
      const base = log.slice(0, -LOG_SUFFIX.length)
      io.unlinkIfExists(base + INDEX_SUFFIX)
      io.unlinkIfExists(base + TIME_INDEX_SUFFIX)
      swapped.push(Number(path.basename(base)))
    }
  }
  if (swapped.length > 0) io.fsyncDir(dir)
  return swapped
}
