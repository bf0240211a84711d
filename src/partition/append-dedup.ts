/**
 * The two ways a partition refuses to append the same thing twice:
 * - idempotent producers: (producerId, epoch, sequence) of the last 5 batches per producer
 *   (producer-state.ts), rebuilt on open from a snapshot plus a scan of the batches after it;
 * - message ids: the `msg-id` header within `dedupWindowMs` (dedup-window.ts), rebuilt on open
 *   by reading the records of the window.
 *
 * A record dropped as a msg-id duplicate keeps its offset slot in its batch (the batch's
 * lastOffsetDelta still counts it), so the batch's last sequence stays baseSequence +
 * lastOffsetDelta, exactly what recovery reads back from the header. Readers see a gap there,
 * as after compaction.
 */
import type { Hashes } from '../hash.js'
import { keyBytes } from './partitioner.js'
import { DedupWindow, MSG_ID_HEADER } from './dedup-window.js'
import { ProducerStateTable, type SequenceCheck } from './producer-state.js'
import type { BatchHeader, Bytes, HeadersInput, LogRecord, RecordInput } from '../segment/index.js'

const SEQUENCE_LIMIT = 0x8000_0000
export const DEDUP_IDS_MAX_DEFAULT = 1_000_000

/** The `msg-id` header's value, if the record has one. */
export function msgIdOf(headers: HeadersInput | undefined): Bytes | undefined {
  if (headers === undefined || headers === null) return undefined
  if (Array.isArray(headers)) {
    for (const pair of headers as ReadonlyArray<readonly [string, Bytes | null]>) if (pair[0] === MSG_ID_HEADER && pair[1] !== null) return pair[1]
    return undefined
  }
  const value = (headers as Record<string, Bytes | null>)[MSG_ID_HEADER]
  return value === null ? undefined : value
}

function msgIdOfRecord(record: LogRecord): Buffer | undefined {
  for (const [key, value] of record.headers) if (key === MSG_ID_HEADER && value !== null) return value
  return undefined
}

export interface MsgIdCheck {
  /** Indexes of records that are duplicates, with the offset each was first appended at (or -1 − index of an earlier record in this batch). */
  duplicates: Map<number, number>
  /** Hash of each record's msg-id (undefined without one). */
  hashes: Array<bigint | undefined>
}

export class AppendDedup {
  readonly producers: ProducerStateTable
  readonly window: DedupWindow | undefined
  #hashes: Hashes

  constructor(hashes: Hashes, producers: ProducerStateTable, dedupWindowMs: number) {
    this.#hashes = hashes
    this.producers = producers
    this.window = dedupWindowMs > 0 ? new DedupWindow(dedupWindowMs, DEDUP_IDS_MAX_DEFAULT) : undefined
  }

  /** Fold a batch read from the log into the producer table (recovery's scan). */
  observeProducerBatch(header: BatchHeader): void {
    if (header.producerId < 0 || header.baseSequence < 0) return
    this.producers.record(header.producerId, header.producerEpoch, {
      firstSequence: header.baseSequence,
      lastSequence: (header.baseSequence + header.lastOffsetDelta) % SEQUENCE_LIMIT,
      baseOffset: header.baseOffset,
      lastOffset: header.baseOffset + header.lastOffsetDelta,
    })
  }

  /** Fold records read from the log into the msg-id window (recovery's scan). */
  observeRecords(records: readonly LogRecord[], now: number): void {
    const window = this.window
    if (window === undefined) return
    for (const r of records) {
      if (r.timestamp < now - window.windowMs) continue
      const id = msgIdOfRecord(r)
      if (id !== undefined) window.add(this.#hashes.h64(id), r.offset, r.timestamp)
    }
  }

  checkSequence(producerId: number, epoch: number, baseSequence: number, count: number): SequenceCheck {
    return this.producers.check(producerId, epoch, baseSequence, count)
  }

  /** Which records of an append repeat a msg-id seen in the window (or earlier in the same batch). */
  checkMsgIds(records: readonly RecordInput[], now: number): MsgIdCheck | undefined {
    const window = this.window
    if (window === undefined) return undefined
    window.expire(now)
    const duplicates = new Map<number, number>()
    const hashes: Array<bigint | undefined> = new Array(records.length)
    const inBatch = new Map<bigint, number>()
    for (let i = 0; i < records.length; i++) {
      const id = msgIdOf((records[i] as RecordInput).headers)
      if (id === undefined) continue
      const hash = this.#hashes.h64(keyBytes(id))
      hashes[i] = hash
      const seen = window.lookup(hash, now)
      const earlier = inBatch.get(hash)
      if (seen !== undefined) duplicates.set(i, seen)
      else if (earlier !== undefined) duplicates.set(i, -1 - earlier)
      else inBatch.set(hash, i)
    }
    return { duplicates, hashes }
  }

  /** Remember what an append wrote. */
  recordAppend(
    producer: { producerId: number; epoch: number; baseSequence: number } | undefined,
    baseOffset: number,
    lastOffset: number,
    msgIds: MsgIdCheck | undefined,
    timestamps: readonly number[],
  ): void {
    if (producer !== undefined) {
      this.producers.record(producer.producerId, producer.epoch, {
        firstSequence: producer.baseSequence,
        lastSequence: (producer.baseSequence + lastOffset - baseOffset) % SEQUENCE_LIMIT,
        baseOffset,
        lastOffset,
      })
    }
    if (msgIds !== undefined && this.window !== undefined) {
      msgIds.hashes.forEach((hash, i) => {
        if (hash !== undefined && !msgIds.duplicates.has(i)) this.window?.add(hash, baseOffset + i, timestamps[i] as number)
      })
    }
  }

  /** Forget what was at or after `offset` (the log was truncated). */
  truncateFrom(offset: number): void {
    this.producers.truncateFrom(offset)
    this.window?.truncateFrom(offset)
  }
}
