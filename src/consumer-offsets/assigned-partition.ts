/**
 * What a consumer knows about one partition it owns: where the next record to yield is, what it
 * read ahead, a pending seek, and the offset store it commits to.
 *
 * Two offsets, never mixed up:
 *   position      the next offset to yield; what `commit()` stores. Changed only by yielding a
 *                 record, or by a start / seek / reset that a read validated against the log.
 *   fetchOffset   the next offset to read (≥ position; the buffer holds what lies between).
 *
 * The start position is resolved lazily, on the first read after assignment: a pending seek,
 * else the committed offset, else the consumer's `from`. An offset outside
 * [log start offset, durable offset] is reset per `from` (and reported), or, with `from: 'none'`,
 * fails with `OffsetOutOfRangeError`.
 */
import fs from 'node:fs'
import { OffsetOutOfRangeError } from '../errors.js'
import type { Partition } from '../partition/index.js'
import type { LogRecord } from '../segment/index.js'
import type { OffsetStore } from './offset-store.js'

/** Where a partition starts when the group has no committed offset for it. */
export type StartFrom = 'earliest' | 'latest' | 'none'

/** A seek: to an offset, or to the first record whose timestamp is at least `timestamp`. */
export type SeekTarget = { offset: number } | { timestamp: number }

/** The `'offset-reset'` event: `committed` (or the position reached) was out of range. */
export interface OffsetReset {
  topic: string
  partition: number
  committed: number
  logStartOffset: number
  resetTo: number
}

export interface FillContext {
  group: string
  from: StartFrom
  maxBytes: number
  onReset: (reset: OffsetReset) => void
}

/** Reads that return no records but move forward (control batches, gaps) before fill() gives up for now. */
const EMPTY_READS_MAX = 16

export class AssignedPartition {
  readonly topic: string
  readonly partition: number
  readonly store: OffsetStore
  readonly reader: Partition
  /** Next offset to yield; undefined until the start position is resolved. */
  position: number | undefined
  #fetchOffset = 0
  #buffer: LogRecord[] = []
  #next = 0
  #seek: SeekTarget | undefined
  /** Highest offset handed to the store (commits never go backwards unless rewound). */
  #lastCommit: number
  /** A seek or reset moved the position below the last commit: the next commit may go back. */
  #rewound = false
  #watcher: fs.FSWatcher | undefined

  constructor(store: OffsetStore, reader: Partition, seek: SeekTarget | undefined) {
    this.topic = store.topic
    this.partition = store.partition
    this.store = store
    this.reader = reader
    this.#seek = seek
    this.#lastCommit = store.committed()?.offset ?? -1
  }

  /** Call `onChange` when the partition's folder changes (a writer appended). Best effort: polling covers the rest. */
  watch(onChange: () => void): void {
    if (this.#watcher !== undefined) return
    try {
      this.#watcher = fs.watch(this.reader.dir, { persistent: false }, () => onChange())
      this.#watcher.on('error', () => {})
    } catch {
      this.#watcher = undefined
    }
  }

  /** Stop watching. The reader belongs to the topic and stays open. */
  close(): void {
    this.#watcher?.close()
    this.#watcher = undefined
  }

  get buffered(): number {
    return this.#buffer.length - this.#next
  }

  /** Take the next read-ahead record (call only when `buffered > 0`); moves `position` past it. */
  take(): LogRecord {
    const record = this.#buffer[this.#next++] as LogRecord
    this.position = record.offset + 1
    if (this.#next === this.#buffer.length) this.#dropBuffer()
    return record
  }

  /** Remember a seek; it takes effect at the next read and drops what was read ahead. */
  seek(target: SeekTarget): void {
    this.#seek = target
    this.#dropBuffer()
  }

  /**
   * Make sure records are buffered if the log has any past the fetch offset: resolve the start or
   * a pending seek, then read one chunk. Returns whether records are buffered.
   */
  fill(ctx: FillContext): boolean {
    if (this.buffered > 0) return true
    this.resolve(ctx)
    for (let i = 0; i < EMPTY_READS_MAX; i++) {
      let result: { records: LogRecord[]; nextOffset: number }
      try {
        result = this.reader.read({ from: this.#fetchOffset, maxBytes: ctx.maxBytes })
      } catch (err) {
        if (!(err instanceof OffsetOutOfRangeError)) throw err
        // Retention passed our position (or the log was replaced): reset per `from`, then read on.
        this.#moveTo(this.#fetchOffset, ctx)
        continue
      }
      const { records, nextOffset } = result
      if (records.length > 0) {
        this.#buffer = records
        this.#next = 0
        this.#fetchOffset = nextOffset
        return true
      }
      if (nextOffset <= this.#fetchOffset) return false
      this.#fetchOffset = nextOffset
    }
    return false
  }

  /** Settle the position if it is not yet (start) or a seek is pending. */
  resolve(ctx: FillContext): void {
    if (this.#seek !== undefined || this.position === undefined) this.#resolveStart(ctx)
  }

  /**
   * Commit `offset` for this partition. A commit at or below the last one is a no-op (records
   * committed out of order), except after a seek or reset moved the position backwards.
   */
  async commit(offset: number, metadata: string): Promise<void> {
    if (offset <= this.#lastCommit && !this.#rewound) return
    if (offset === this.#lastCommit) return
    const force = this.#rewound
    const before = this.#lastCommit
    this.#rewound = false
    this.#lastCommit = offset
    try {
      await this.store.commit(offset, metadata, { force })
    } catch (err) {
      // Not stored: let a later commit of the same offset try again.
      if (this.#lastCommit === offset) {
        this.#lastCommit = before
        this.#rewound ||= force
      }
      throw err
    }
  }

  #resolveStart(ctx: FillContext): void {
    const seek = this.#seek
    this.#seek = undefined
    if (seek !== undefined) {
      const offset = 'offset' in seek ? seek.offset : this.#offsetForTimestamp(seek.timestamp)
      this.#moveTo(offset, ctx)
      return
    }
    const committed = this.store.committed()
    if (committed !== undefined) {
      this.#moveTo(committed.offset, ctx)
      return
    }
    const { logStartOffset, durableOffset } = freshBounds(this.reader)
    if (ctx.from === 'none') {
      throw new OffsetOutOfRangeError(
        `Cannot start consuming ${this.topic}/${this.partition} for group '${ctx.group}': the group has no committed offset and from is 'none'; seek first, or use from: 'earliest' or 'latest'`,
      )
    }
    this.#setPosition(ctx.from === 'earliest' ? logStartOffset : durableOffset)
  }

  #offsetForTimestamp(timestamp: number): number {
    freshBounds(this.reader)
    return this.reader.offsetForTimestamp(timestamp)
  }

  /** Move to `offset` if the log holds it, else reset per `from` and report it. */
  #moveTo(offset: number, ctx: FillContext): void {
    const { logStartOffset, durableOffset } = freshBounds(this.reader)
    if (offset >= logStartOffset && offset <= durableOffset) {
      this.#setPosition(offset)
      return
    }
    if (ctx.from === 'none') {
      throw new OffsetOutOfRangeError(
        `Cannot consume ${this.topic}/${this.partition} for group '${ctx.group}' from offset ${offset}: the log holds offsets ${logStartOffset} to ${durableOffset} and from is 'none'; seek to a valid offset`,
      )
    }
    const resetTo = ctx.from === 'earliest' ? logStartOffset : durableOffset
    this.#setPosition(resetTo)
    ctx.onReset({ topic: this.topic, partition: this.partition, committed: offset, logStartOffset, resetTo })
  }

  #setPosition(offset: number): void {
    this.position = offset
    this.#fetchOffset = offset
    this.#dropBuffer()
    if (offset < this.#lastCommit) this.#rewound = true
  }

  #dropBuffer(): void {
    this.#buffer = []
    this.#next = 0
  }
}

/**
 * The log start and durable offsets as the writer has them now. A read-only partition refreshes
 * its view when asked to read at or past its durable offset, which is what this does.
 */
export function freshBounds(reader: Partition): { logStartOffset: number; durableOffset: number } {
  reader.refresh()
  return { logStartOffset: reader.logStartOffset, durableOffset: reader.durableOffset }
}
