/**
 * Partition configuration: defaults, and validation that turns a bad value into a `RangeError`
 * naming the option, before anything touches the disk.
 */
import { MAX_BATCH_BYTES_DEFAULT, MAX_RECORD_BYTES_DEFAULT } from '../segment/index.js'

/**
 * When an append is acknowledged, and what survives what:
 * - `'always'`: after an fdatasync that covers it (concurrent appends share one: group commit).
 * - `{ intervalMs }`: once written to the OS; flushed every `intervalMs`.
 * - `'never'`: once written to the OS; the OS flushes when it likes.
 * Every mode survives a process crash; only what an fsync covered survives power loss.
 */
export type FsyncPolicy = 'always' | 'never' | { intervalMs: number }

/** `delete`: retention deletes old segments. `compact`: keep the newest record per key. Both: both. */
export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'
export const CLEANUP_POLICIES: readonly CleanupPolicy[] = ['delete', 'compact', 'compact,delete']

export interface PartitionOptions {
  /** Durability of appends. Default `'always'`. */
  fsync?: FsyncPolicy
  /** Roll to a new segment when the active one would pass this size. Default 1 GiB. */
  segmentBytes?: number
  /** Roll when the active segment was started this long ago. Default 7 days. */
  segmentMs?: number
  /** Bytes between sparse index entries. Default 4096. */
  indexIntervalBytes?: number
  /** Preallocated size of an index file; a full index rolls the segment. Default 10 MiB. */
  maxIndexBytes?: number
  /** Largest encoded record. Default 1 MiB. */
  maxRecordBytes?: number
  /** Largest batch, written or read (bounds every allocation made from a length on disk). Default 16 MiB. */
  maxBatchBytes?: number
  /** Delete the oldest sealed segments while the partition is larger than this. Default: no limit. */
  retentionBytes?: number
  /** Delete sealed segments whose newest record is older than this. Default: no limit. */
  retentionMs?: number
  /** How often time-based retention runs. Default 5 minutes. */
  retentionCheckIntervalMs?: number
  /**
   * Most bytes written but not yet fsync'd under `fsync: 'always'`: appends wait for the running
   * fsync beyond it. This is also the torn-write window of recovery: damage within this many bytes
   * of the end of the log can be an unfinished write and is cut; damage further back, with valid
   * batches after it, is corruption. Default 4 MiB.
   */
  maxUnsyncedBytes?: number
  /** On open, keep the valid batches after damaged ones instead of failing with ERR_CORRUPT_RECORD. */
  repair?: boolean
  /** On open, validate every segment, ignoring the clean-shutdown marker and the recovery point. */
  fullRecovery?: boolean
  /** Compression of appended batches. Default `'none'`. */
  compression?: 'none' | 'gzip'
  /** Mode of new files. Default 0o600. */
  fileMode?: number
  /** Mode of new folders. Default 0o700. */
  dirMode?: number
  /** How often a read-only follower polls when `fs.watch` is silent. Default 100 ms. */
  pollIntervalMs?: number
  /**
   * Message-id dedup window: a record whose `msg-id` header was appended within this many ms is
   * not appended again (the caller gets the original offset). 0 (default): off.
   */
  dedupWindowMs?: number
  /** Default `'delete'`. With `'compact'`, records need a key and retention by size/time is off. */
  cleanupPolicy?: CleanupPolicy
  /** Compact when dirty bytes / sealed bytes reaches this. Default 0.5. */
  minCleanableDirtyRatio?: number
  /** How long a tombstone stays after its first compaction. Default 1 day. */
  deleteRetentionMs?: number
  /** Memory of the compaction key map (16 bytes per key). Default 16 MiB. */
  compactionBufferBytes?: number
  /** How often the dirty ratio is checked. Default 15 s. */
  compactionCheckIntervalMs?: number
}

export type ResolvedOptions = Required<Omit<PartitionOptions, 'fsync'>> & { fsync: FsyncPolicy }

const GiB = 1024 * 1024 * 1024
const MiB = 1024 * 1024

export const DEFAULTS: ResolvedOptions = {
  fsync: 'always',
  segmentBytes: GiB,
  segmentMs: 7 * 24 * 3600 * 1000,
  indexIntervalBytes: 4096,
  maxIndexBytes: 10 * MiB,
  maxRecordBytes: MAX_RECORD_BYTES_DEFAULT,
  maxBatchBytes: MAX_BATCH_BYTES_DEFAULT,
  retentionBytes: Infinity,
  retentionMs: Infinity,
  retentionCheckIntervalMs: 5 * 60 * 1000,
  maxUnsyncedBytes: 4 * MiB,
  repair: false,
  fullRecovery: false,
  compression: 'none',
  fileMode: 0o600,
  dirMode: 0o700,
  pollIntervalMs: 100,
  dedupWindowMs: 0,
  cleanupPolicy: 'delete',
  minCleanableDirtyRatio: 0.5,
  deleteRetentionMs: 24 * 3600 * 1000,
  compactionBufferBytes: 16 * MiB,
  compactionCheckIntervalMs: 15_000,
}

function positive(name: string, value: number, min: number, max = Infinity): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max || (Number.isFinite(value) && !Number.isInteger(value))) {
    throw new RangeError(`Invalid option ${name}: ${String(value)}; expected an integer in [${min}, ${max}]`)
  }
  return value
}

/** Fill in defaults and check every value. Throws `RangeError` / `TypeError` naming the option. */
export function resolveOptions(options: PartitionOptions = {}): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('Partition options must be an object')
  const o: ResolvedOptions = { ...DEFAULTS }
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue
    if (!(key in DEFAULTS)) throw new TypeError(`Unknown partition option '${key}'`)
    ;(o as unknown as Record<string, unknown>)[key] = value
  }
  const f = o.fsync
  if (f !== 'always' && f !== 'never') {
    if (typeof f !== 'object' || f === null || typeof f.intervalMs !== 'number') {
      throw new TypeError(`Invalid option fsync: expected 'always', 'never' or { intervalMs }`)
    }
    positive('fsync.intervalMs', f.intervalMs, 1, 2 ** 31 - 1)
  }
  positive('maxBatchBytes', o.maxBatchBytes, 1024, 2 ** 31 - 1)
  positive('maxRecordBytes', o.maxRecordBytes, 16, o.maxBatchBytes)
  positive('segmentBytes', o.segmentBytes, 256, 2 ** 32 - 1)
  positive('segmentMs', o.segmentMs, 1)
  positive('indexIntervalBytes', o.indexIntervalBytes, 0, 2 ** 31 - 1)
  positive('maxIndexBytes', o.maxIndexBytes, 64, 2 ** 31 - 1)
  positive('retentionBytes', o.retentionBytes, 0)
  positive('retentionMs', o.retentionMs, 0)
  positive('retentionCheckIntervalMs', o.retentionCheckIntervalMs, 1, 2 ** 31 - 1)
  positive('maxUnsyncedBytes', o.maxUnsyncedBytes, 1)
  positive('pollIntervalMs', o.pollIntervalMs, 1, 2 ** 31 - 1)
  positive('dedupWindowMs', o.dedupWindowMs, 0)
  positive('deleteRetentionMs', o.deleteRetentionMs, 0)
  positive('compactionBufferBytes', o.compactionBufferBytes, 1024, 2 ** 31 - 1)
  positive('compactionCheckIntervalMs', o.compactionCheckIntervalMs, 1, 2 ** 31 - 1)
  if (!CLEANUP_POLICIES.includes(o.cleanupPolicy)) throw new RangeError(`Invalid option cleanupPolicy: ${String(o.cleanupPolicy)}; expected one of ${CLEANUP_POLICIES.join(', ')}`)
  if (typeof o.minCleanableDirtyRatio !== 'number' || !(o.minCleanableDirtyRatio >= 0 && o.minCleanableDirtyRatio <= 1)) {
    throw new RangeError(`Invalid option minCleanableDirtyRatio: ${String(o.minCleanableDirtyRatio)}; expected a number in [0, 1]`)
  }
  if (o.compression !== 'none' && o.compression !== 'gzip') throw new TypeError(`Invalid option compression: ${String(o.compression)}`)
  return o
}
