/**
 * The committed offset of one (group, topic, partition), stored as a log.
 *
 * Folder: `<root>/@groups/<group>/<topic>/<partition>/`, an ordinary {@link Partition} (same
 * segments, batch format, recovery and fsync policy as a topic's partition), so `seglog dump` and
 * `verify` read it like any other log. Each commit appends one batch of one record:
 *
 * | field     | content                                                           |
 * |-----------|-------------------------------------------------------------------|
 * | key       | `<topic>/<partition>` in UTF-8 (says what the value is about)     |
 * | value     | JSON `{"offset":N,"metadata":"…","commitTimestamp":ms}`            |
 * | timestamp | the commit timestamp                                              |
 *
 * The committed offset is the value of the last record. One store holds one key, so the newest
 * record is all that matters: size-based retention over small segments keeps the folder at a few
 * segments and gives what compaction would, without rewriting anything.
 *
 * Loading costs the same after ten commits or ten million: opening after a clean close checks the
 * last segment's tail only, opening after a crash scans from the recovery point (the start of the
 * active segment, ≤ `segmentBytes`), and the last commit is read from `logEndOffset − 1`.
 *
 * Ownership: the writer's exclusive flock on `.lock` is also the group's ownership of the
 * partition. Opening a store another member holds — in another process or this one — fails at
 * once with `ERR_LOCKED` ({@link LockedError}); the kernel drops the lock when a process dies.
 */
import fs from 'node:fs'
import path from 'node:path'
import { ClosedError, CorruptRecordError, OffsetOutOfRangeError, StorageError } from '../errors.js'
import { validateName } from '../names.js'
import { Partition, type FsyncPolicy, type PartitionOptions } from '../partition/index.js'
import type { LogRecord } from '../segment/index.js'

/** The folder under a log's root that holds consumer groups. '@' is not allowed in names, so it cannot be a topic. */
export const GROUPS_DIR = '@groups'
/** Largest commit metadata, in UTF-16 code units (Kafka's `offset.metadata.max.bytes` is 4096). */
export const METADATA_LENGTH_MAX = 4096

const KiB = 1024
/** Segment size of an offset store: small, so retention can drop old commits soon. */
const STORE_SEGMENT_BYTES = 64 * KiB
/** Keep about two segments of history (handy for debugging with `seglog dump`). */
const STORE_RETENTION_BYTES = 128 * KiB
/** 64 KiB segments at one index entry per 4 KiB need 16 entries: 1 KiB of index is plenty. */
const STORE_MAX_INDEX_BYTES = 1024

/** A committed offset: the next offset the group will read, as in Kafka. */
export interface CommittedOffset {
  offset: number
  metadata: string
  /** When it was committed (ms since the epoch). */
  commitTimestamp: number
}

export interface OffsetStoreOptions {
  /** Durability of commits. Default `'always'`: `commit()` resolves after an fdatasync (shared by concurrent commits). */
  fsync?: FsyncPolicy
  /** Mode of new files. Default 0o600. */
  fileMode?: number
  /** Mode of new folders. Default 0o700. */
  dirMode?: number
}

export interface CommitOptions {
  /** Allow a lower offset than the last commit (seek backwards). */
  force?: boolean
}

/** `<root>/@groups/<group>`, after checking the group name and that no folder on the way is a symbolic link. */
export function groupDir(root: string, group: string): string {
  validateName('group', group)
  refuseLink(path.join(root, GROUPS_DIR))
  const dir = path.join(root, GROUPS_DIR, group)
  refuseLink(dir)
  return dir
}

/** The folder of the offset store of (group, topic, partition). */
export function offsetStoreDir(root: string, group: string, topic: string, partition: number): string {
  validateName('topic', topic)
  checkPartition(partition)
  const topicDir = path.join(groupDir(root, group), topic)
  refuseLink(topicDir)
  return path.join(topicDir, String(partition))
}

/**
 * Refuse a folder that is a symbolic link: creating the store below it would write wherever it
 * points (the partition folder itself is checked by Partition.open). A missing folder is fine.
 */
function refuseLink(dir: string): void {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(dir)
  } catch {
    return
  }
  if (stat.isSymbolicLink()) throw new StorageError(`Cannot use ${dir}: it is a symbolic link, which seglog does not follow`, { file: dir })
}

/**
 * The committed offset of one partition for one group, owned exclusively while open.
 *
 * @example
 * ```ts
 * const store = await OffsetStore.open('./data', 'billing', 'orders', 0)
 * const next = store.committed()?.offset ?? 0
 * await store.commit(next + 10)
 * await store.close()
 * ```
 */
export class OffsetStore {
  readonly group: string
  readonly topic: string
  readonly partition: number
  readonly dir: string
  #log: Partition
  #committed: CommittedOffset | undefined
  /** Highest offset asked for so far (commits are appended in call order, so this is the newest). */
  #requested: number
  /** Log offset of the record holding `#committed` (orders concurrent commits). */
  #committedAt: number
  #closed = false

  private constructor(group: string, topic: string, partition: number, log: Partition, committed: CommittedOffset | undefined) {
    this.group = group
    this.topic = topic
    this.partition = partition
    this.dir = log.dir
    this.#log = log
    this.#committed = committed
    this.#requested = committed?.offset ?? -1
    this.#committedAt = committed === undefined ? -1 : log.durableOffset - 1
  }

  /**
   * Open (creating if missing) the store of (group, topic, partition) and take its lock.
   * Throws `LockedError` (`ERR_LOCKED`) if another member, in any process, holds it.
   */
  static async open(root: string, group: string, topic: string, partition: number, options: OffsetStoreOptions = {}): Promise<OffsetStore> {
    const dir = offsetStoreDir(root, group, topic, partition)
    const log = await Partition.open(dir, partitionOptionsOf(options))
    try {
      return new OffsetStore(group, topic, partition, log, lastCommit(log, topic, partition))
    } catch (err) {
      await log.close().catch(() => {})
      throw err
    }
  }

  /**
   * The committed offset of (group, topic, partition) without taking the lock, for lag reports;
   * `undefined` if the group never committed one. Sees what the owner made durable.
   */
  static async peek(root: string, group: string, topic: string, partition: number): Promise<CommittedOffset | undefined> {
    const dir = offsetStoreDir(root, group, topic, partition)
    if (!fs.existsSync(dir)) return undefined
    let log: Partition
    try {
      log = await Partition.openReadOnly(dir)
    } catch (err) {
      // A store whose first segment is not created yet has nothing committed.
      if (!fs.existsSync(dir) || fs.readdirSync(dir).every((n) => !n.endsWith('.log'))) return undefined
      throw err
    }
    try {
      return lastCommit(log, topic, partition)
    } finally {
      await log.close()
    }
  }

  /** Every (topic, partition) a group has a store for, with its committed offset, sorted. */
  static async peekGroup(root: string, group: string): Promise<Array<{ topic: string; partition: number; committed: CommittedOffset | undefined }>> {
    const dir = groupDir(root, group)
    const out: Array<{ topic: string; partition: number; committed: CommittedOffset | undefined }> = []
    for (const topic of listNames(dir).sort()) {
      if (topic.startsWith('@')) continue // @members and anything else that is not a topic
      const partitions = listNames(path.join(dir, topic))
        .filter((n) => /^(0|[1-9][0-9]{0,8})$/.test(n))
        .map(Number)
        .sort((a, b) => a - b)
      for (const partition of partitions) out.push({ topic, partition, committed: await OffsetStore.peek(root, group, topic, partition) })
    }
    return out
  }

  /** The last durable commit, or `undefined` if none. */
  committed(): CommittedOffset | undefined {
    return this.#committed === undefined ? undefined : { ...this.#committed }
  }

  get closed(): boolean {
    return this.#closed
  }

  /**
   * Commit `offset` (the next offset the group will read) with optional `metadata`. Resolves once
   * durable per the fsync policy; concurrent commits share one fsync. Offsets never go backwards:
   * a lower offset than an earlier commit is a `RangeError` unless `force` (seek) is given.
   */
  async commit(offset: number, metadata = '', options: CommitOptions = {}): Promise<void> {
    if (this.#closed) throw new ClosedError(`Cannot commit offset ${offset} of ${this.#name()}: the offset store is closed`)
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`Cannot commit offset ${offset} of ${this.#name()}: expected a safe integer ≥ 0`)
    if (typeof metadata !== 'string') throw new TypeError(`Cannot commit offset ${offset} of ${this.#name()}: metadata must be a string`)
    if (metadata.length > METADATA_LENGTH_MAX) {
      throw new RangeError(`Cannot commit offset ${offset} of ${this.#name()}: metadata is ${metadata.length} characters, max is ${METADATA_LENGTH_MAX}`)
    }
    if (offset < this.#requested && options.force !== true) {
      throw new RangeError(`Cannot commit offset ${offset} of ${this.#name()}: it is below the last commit, ${this.#requested}; committed offsets never go backwards (seek to rewind)`)
    }
    this.#requested = offset
    const value: CommittedOffset = { offset, metadata, commitTimestamp: Date.now() }
    const { lastOffset } = await this.#log.append([{ key: keyOf(this.topic, this.partition), value: JSON.stringify(value), timestamp: value.commitTimestamp }])
    // Appends complete in call order; keep the newest in case resolutions interleave.
    if (lastOffset > this.#committedAt) {
      this.#committedAt = lastOffset
      this.#committed = value
    }
  }

  #name(): string {
    return `${this.topic}/${this.partition} for group '${this.group}'`
  }

  /** Wait for pending commits, close the log and release the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#log.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function partitionOptionsOf(options: OffsetStoreOptions): PartitionOptions {
  const o: PartitionOptions = {
    segmentBytes: STORE_SEGMENT_BYTES,
    retentionBytes: STORE_RETENTION_BYTES,
    maxIndexBytes: STORE_MAX_INDEX_BYTES,
    fsync: options.fsync ?? 'always',
  }
  if (options.fileMode !== undefined) o.fileMode = options.fileMode
  if (options.dirMode !== undefined) o.dirMode = options.dirMode
  return o
}

function keyOf(topic: string, partition: number): string {
  return `${topic}/${partition}`
}

function checkPartition(partition: number): void {
  if (!Number.isSafeInteger(partition) || partition < 0) throw new RangeError(`Invalid partition ${partition}: expected an integer ≥ 0`)
}

function listNames(dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

/**
 * The newest commit in `log`: the record at `durableOffset − 1`. If that offset is missing (a gap
 * left by repair), fall back to the newest record of each segment, newest segment first; the loop
 * is bounded by the segment count and each read by the segment size.
 */
function lastCommit(log: Partition, topic: string, partition: number): CommittedOffset | undefined {
  const end = log.durableOffset
  if (end <= log.logStartOffset) return undefined
  let record = last(readSafely(log, end - 1))
  if (record === undefined) {
    const segments = log.segments()
    for (let i = segments.length - 1; i >= 0 && record === undefined; i--) {
      const segment = segments[i] as { baseOffset: number; sizeBytes: number }
      const from = Math.max(segment.baseOffset, log.logStartOffset)
      if (from >= end) continue
      let next = from
      // Each read returns at least one batch; the segment holds at most sizeBytes / 61 batches.
      for (let guard = 0; guard <= segment.sizeBytes && next < end; guard++) {
        const { records, nextOffset } = log.read({ from: next, maxBytes: STORE_SEGMENT_BYTES })
        record = last(records) ?? record
        if (nextOffset <= next) break
        next = nextOffset
        const following = segments[i + 1]
        if (following !== undefined && next >= following.baseOffset) break
      }
    }
  }
  return record === undefined ? undefined : parseCommit(record, log, topic, partition)
}

function readSafely(log: Partition, from: number): LogRecord[] {
  try {
    return log.read({ from, maxBytes: 1 }).records
  } catch (err) {
    if (err instanceof OffsetOutOfRangeError) return []
    throw err
  }
}

function last<T>(items: T[]): T | undefined {
  return items[items.length - 1]
}

/** Decode a commit record. Its batch passed the CRC, so a bad value means a faulty writer: report it as corruption. */
function parseCommit(record: LogRecord, log: Partition, topic: string, partition: number): CommittedOffset {
  const fail = (why: string): never => {
    throw new CorruptRecordError(`Cannot load the committed offset of ${topic}/${partition} from ${log.dir}: record ${record.offset} ${why}`, { file: log.dir })
  }
  const key = record.key?.toString('utf8')
  if (key !== keyOf(topic, partition)) fail(`has key ${JSON.stringify(key ?? null)}, expected ${JSON.stringify(keyOf(topic, partition))}`)
  let value: unknown
  try {
    value = JSON.parse(record.value?.toString('utf8') ?? 'null')
  } catch {
    fail('is not JSON')
  }
  const v = value as Partial<CommittedOffset> | null
  if (v === null || typeof v !== 'object') return fail('is not an object')
  if (typeof v.offset !== 'number' || !Number.isSafeInteger(v.offset) || v.offset < 0) return fail('has no valid offset')
  if (typeof v.metadata !== 'string') return fail('has no metadata string')
  if (typeof v.commitTimestamp !== 'number' || !Number.isFinite(v.commitTimestamp)) return fail('has no commit timestamp')
  return { offset: v.offset, metadata: v.metadata, commitTimestamp: v.commitTimestamp }
}
