/**
 * The sparse time index of a segment: from which offset to scan to find the first record at or
 * after a timestamp, without reading the `.log`.
 */
import assert from 'node:assert'
import { CorruptIndexError } from '../errors.js'
import { firstAtLeast, largestAtMost, type EntryLayout } from './entry-layout.js'
import { MappedFile, checkOpenOptions, type IndexOpenOptions, type IndexProblem } from './mapped-file.js'

/** A timestamp and the offset of a record that has it: records before that offset are older. */
export interface TimestampOffset {
  /** Milliseconds since the epoch. */
  timestamp: number
  /** Absolute offset. */
  offset: number
}

/*
 * Time index file `<baseOffset 20 digits>.timeindex`, exactly Kafka's: no header, no checksum,
 * entries back to back, big-endian.
 *
 * | pos | size | type  | field          | meaning                                                  |
 * |-----|------|-------|----------------|----------------------------------------------------------|
 * | 0   | 8    | int64 | timestamp      | the largest record timestamp in the segment up to offset |
 * | 8   | 4    | u32   | relativeOffset | offset of a record with that timestamp − baseOffset       |
 *
 * CRC coverage: none. An index is rebuilt from the `.log` whenever it fails a sanity check.
 * Timestamps are ≥ 0 and strictly increase from one entry to the next; relative offsets do not
 * decrease. A writable index is preallocated with zeros to maxIndexBytes, and (as in Kafka) keeps
 * its last slot for the entry written when the segment is sealed; a sealed index is trimmed to
 * entries × TIME_INDEX_ENTRY_BYTES bytes.
 */
const TIMESTAMP_POS = 0
const TIMESTAMP_BYTES = 8
const RELATIVE_OFFSET_POS = TIMESTAMP_POS + TIMESTAMP_BYTES
const RELATIVE_OFFSET_BYTES = 4
/** Bytes of one time index entry. */
export const TIME_INDEX_ENTRY_BYTES = RELATIVE_OFFSET_POS + RELATIVE_OFFSET_BYTES
assert(TIME_INDEX_ENTRY_BYTES === 12)
/** Largest relativeOffset an entry can hold (u32), as in the offset index. */
const MAX_RELATIVE_OFFSET = 2 ** (8 * RELATIVE_OFFSET_BYTES) - 1

/** Kafka's NO_TIMESTAMP: the last timestamp of an empty time index, so the first entry is ≥ 0. */
const NO_TIMESTAMP = -1

const layout: EntryLayout = {
  entryBytes: TIME_INDEX_ENTRY_BYTES,
  follows: (buf, prevPos, pos) => {
    // Compare the int64 timestamps as (signed high word, unsigned low word), without a BigInt.
    const high = buf.readInt32BE(pos + TIMESTAMP_POS)
    const prevHigh = buf.readInt32BE(prevPos + TIMESTAMP_POS)
    const later = high > prevHigh || (high === prevHigh && buf.readUInt32BE(pos + TIMESTAMP_POS + 4) > buf.readUInt32BE(prevPos + TIMESTAMP_POS + 4))
    return later && buf.readUInt32BE(pos + RELATIVE_OFFSET_POS) >= buf.readUInt32BE(prevPos + RELATIVE_OFFSET_POS)
  },
}

/**
 * A segment's time index: a sparse, memory-mapped, sorted map from timestamp to offset. Kafka's
 * `TimeIndex`: an entry (t, o) says that t is the largest timestamp of the segment's records up to
 * offset o, first reached at o. So the first record at or after time T is found by scanning the
 * `.log` from the offset of the largest entry with timestamp ≤ T.
 *
 * @example
 * ```ts
 * const index = TimeIndex.open(`${dir}/00000000000000000100.timeindex`, {
 *   baseOffset: 100, maxIndexBytes: 10 * 1024 * 1024, writable: true,
 * })
 * index.maybeAppend(1_700_000_000_000, 109)   // true
 * index.maybeAppend(1_700_000_000_000, 120)   // false: the timestamp did not grow
 * index.lookup(1_700_000_000_500)             // { timestamp: 1700000000000, offset: 109 }
 * index.close()
 * ```
 */
export class TimeIndex {
  #mapped: MappedFile
  readonly #baseOffset: number

  private constructor(mapped: MappedFile, baseOffset: number) {
    this.#mapped = mapped
    this.#baseOffset = baseOffset
  }

  /**
   * Open (a writable index: create if missing) the time index `file`. The entries are counted from
   * the file's bytes, so an index left untrimmed by a crash opens with only its written entries.
   * Call {@link TimeIndex.sanityCheck} before trusting it.
   *
   * @throws RangeError if an option is out of range; the file system's error if the file cannot be
   * opened, sized or mapped.
   */
  static open(file: string, options: IndexOpenOptions): TimeIndex {
    checkOpenOptions(file, options, TIME_INDEX_ENTRY_BYTES)
    return new TimeIndex(MappedFile.open(file, options, layout), options.baseOffset)
  }

  /** Path of the index file. */
  get file(): string {
    return this.#mapped.file
  }

  /** The segment's base offset: relative offsets count from it. */
  get baseOffset(): number {
    return this.#baseOffset
  }

  /** Number of entries. */
  get entries(): number {
    return this.#mapped.entries
  }

  /** Entries the file has room for: its length in whole entries (preallocated, if writable). */
  get maxEntries(): number {
    return this.#mapped.slots
  }

  /** Whether entries can be appended: open writable, and neither trimmed nor closed since. */
  get writable(): boolean {
    return this.#mapped.writable
  }

  /**
   * Whether the index is writable and has no room for another entry: the segment must roll. As in
   * Kafka, the last slot is kept for the entry {@link TimeIndex.maybeAppend} writes with
   * `skipFullCheck` when the segment is sealed, so this is true one entry before the file is full.
   */
  get isFull(): boolean {
    return this.#mapped.writable && this.#mapped.entries >= this.#mapped.slots - 1
  }

  /** The last entry, or undefined if there is none. */
  lastEntry(): TimestampOffset | undefined {
    this.#mapped.assertOpen('read')
    return this.entries === 0 ? undefined : this.#entryAt(this.entries - 1)
  }

  /**
   * Entry `i` (0-based).
   *
   * @throws RangeError if `i` is not in [0, entries).
   */
  entryAt(i: number): TimestampOffset {
    this.#mapped.assertOpen('read')
    if (!Number.isInteger(i) || i < 0 || i >= this.entries) {
      throw new RangeError(`Cannot read entry ${i} of index ${this.file}: it has ${this.entries} entries`)
    }
    return this.#entryAt(i)
  }

  /**
   * Append (timestamp, offset) if `timestamp` is greater than the last entry's timestamp (or, for
   * the first entry, ≥ 0: Kafka's NO_TIMESTAMP is -1); return whether it was appended. The segment
   * calls it with the largest timestamp so far and the offset of its record.
   *
   * @param skipFullCheck use the slot kept for sealing the segment (see {@link TimeIndex.isFull}).
   * @throws AssertionError if the index is read-only or full, or if `offset` is below the last
   * entry's (all programmer errors); RangeError if `timestamp` is not a safe integer, or `offset` is
   * below the base offset or more than 2^32 - 1 above it.
   */
  maybeAppend(timestamp: number, offset: number, skipFullCheck = false): boolean {
    const mapped = this.#mapped
    mapped.assertOpen('append to')
    if (!Number.isSafeInteger(timestamp)) {
      throw new RangeError(`Cannot append to index ${this.file}: timestamp ${timestamp} is not a safe integer`)
    }
    const relativeOffset = this.#relativeOffset(offset, 'append to')
    assert(mapped.writable, `Cannot append to index ${this.file}: it is read-only (sealed)`)
    const last = this.lastEntry()
    if (last !== undefined) {
      assert(offset >= last.offset, `Cannot append to index ${this.file}: offset ${offset} is below the last entry's ${last.offset}`)
    }
    if (timestamp <= (last?.timestamp ?? NO_TIMESTAMP)) return false
    if (!skipFullCheck) assert(!this.isFull, `Cannot append to index ${this.file}: it is full (${this.entries} entries)`)
    mapped.assertAppendable()
    const pos = mapped.entries * TIME_INDEX_ENTRY_BYTES
    mapped.buf.writeBigInt64BE(BigInt(timestamp), pos + TIMESTAMP_POS)
    mapped.buf.writeUInt32BE(relativeOffset, pos + RELATIVE_OFFSET_POS)
    mapped.appended()
    return true
  }

  /**
   * The entry with the largest timestamp ≤ `targetTimestamp`, or undefined if there is none (every
   * record of the segment may be at or after it: scan from the start). Binary search.
   */
  lookup(targetTimestamp: number): TimestampOffset | undefined {
    this.#mapped.assertOpen('look up in')
    if (Number.isNaN(targetTimestamp)) throw new RangeError(`Cannot look up in index ${this.file}: the target timestamp is NaN`)
    const i = largestAtMost(this.entries, (j) => this.#timestampAt(j), targetTimestamp)
    return i === -1 ? undefined : this.#entryAt(i)
  }

  /**
   * Remove the entries with offset ≥ `offset` (the `.log` was truncated to end before `offset`).
   * The removed entries are zeroed so that a crash cannot bring them back.
   *
   * @throws AssertionError if the index is read-only.
   */
  truncateTo(offset: number): void {
    this.#mapped.assertOpen('truncate')
    if (Number.isNaN(offset)) throw new RangeError(`Cannot truncate index ${this.file}: the offset is NaN`)
    const keep = firstAtLeast(this.entries, (j) => this.#relativeOffsetAt(j), offset - this.#baseOffset)
    this.#mapped.truncateEntries(keep)
  }

  /**
   * Remove every entry, before rebuilding the index from the `.log`.
   *
   * @throws AssertionError if the index is read-only.
   */
  reset(): void {
    this.#mapped.assertOpen('reset')
    this.#mapped.reset()
  }

  /**
   * Check the index against its own rules: undefined if sane, else a sentence naming the first
   * problem found. Cheap: reads the entries' bytes, not the `.log`. Checks that timestamps strictly
   * increase and offsets do not decrease through the whole file (a sealed index is trimmed, so every
   * entry counts; in a writable one, every byte after the entries is zero), that timestamps are
   * ≥ 0 and safe integers, that offsets do not overflow a safe integer, that a sealed file is a whole
   * number of entries, and, given the segment's `nextOffset` (one past its last offset), that every
   * entry's offset is below it. A failed check means: rebuild the index.
   */
  sanityCheck(nextOffset?: number): string | undefined {
    return this.#findProblem(nextOffset)?.reason
  }

  /**
   * {@link TimeIndex.sanityCheck}, throwing instead of returning the problem.
   *
   * @throws CorruptIndexError with the file and the byte position of the first problem.
   */
  assertSane(nextOffset?: number): void {
    const problem = this.#findProblem(nextOffset)
    if (problem !== undefined) throw new CorruptIndexError(problem.reason, { file: this.file, position: problem.position })
  }

  /** msync the entries to disk (after a trim, fdatasync the file). A no-op if nothing changed. */
  flush(): void {
    this.#mapped.assertOpen('flush')
    this.#mapped.flush()
  }

  /**
   * Shrink the file to exactly its entries and map it read-only: the segment is sealed, and the
   * index takes no more entries. A no-op on a read-only index. Does not flush.
   */
  trim(): void {
    this.#mapped.assertOpen('trim')
    this.#mapped.trim()
  }

  /** Trim (if writable) and release the file. Idempotent. */
  close(): void {
    this.#mapped.close()
  }

  /** {@link TimeIndex.close}. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** {@link TimeIndex.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }

  #timestampAt(i: number): number {
    return Number(this.#mapped.buf.readBigInt64BE(i * TIME_INDEX_ENTRY_BYTES + TIMESTAMP_POS))
  }

  #relativeOffsetAt(i: number): number {
    return this.#mapped.buf.readUInt32BE(i * TIME_INDEX_ENTRY_BYTES + RELATIVE_OFFSET_POS)
  }

  #entryAt(i: number): TimestampOffset {
    return { timestamp: this.#timestampAt(i), offset: this.#baseOffset + this.#relativeOffsetAt(i) }
  }

  #relativeOffset(offset: number, action: string): number {
    const relativeOffset = offset - this.#baseOffset
    if (!Number.isSafeInteger(offset) || relativeOffset < 0 || relativeOffset > MAX_RELATIVE_OFFSET) {
      throw new RangeError(
        `Cannot ${action} index ${this.file}: offset ${offset} is not in [baseOffset ${this.#baseOffset}, baseOffset + ${MAX_RELATIVE_OFFSET}]`,
      )
    }
    return relativeOffset
  }

  #findProblem(nextOffset: number | undefined): IndexProblem | undefined {
    this.#mapped.assertOpen('check')
    const buf = this.#mapped.buf
    const size = TIME_INDEX_ENTRY_BYTES
    const shape = this.#mapped.shapeProblem(
      (i) => `(timestamp ${buf.readBigInt64BE(i * size + TIMESTAMP_POS)}, relativeOffset ${buf.readUInt32BE(i * size + RELATIVE_OFFSET_POS)})`,
    )
    if (shape !== undefined) return shape
    const last = this.lastEntry()
    if (last === undefined) return undefined
    const lastPos = (this.entries - 1) * size
    const first = this.#entryAt(0)
    if (first.timestamp < 0) {
      return { reason: `Index ${this.file} entry 0 has timestamp ${first.timestamp}: timestamps are never negative`, position: 0 }
    }
    if (!Number.isSafeInteger(last.timestamp)) {
      return {
        reason: `Index ${this.file} entry ${this.entries - 1} has timestamp ${buf.readBigInt64BE(lastPos + TIMESTAMP_POS)}, beyond 2^53 - 1`,
        position: lastPos,
      }
    }
    if (!Number.isSafeInteger(last.offset)) {
      return { reason: `Index ${this.file} entry ${this.entries - 1} has offset ${last.offset}, beyond 2^53 - 1`, position: lastPos }
    }
    if (nextOffset !== undefined && last.offset >= nextOffset) {
      // Offsets do not decrease, so the first entry at or past nextOffset is found by binary search.
      const bad = firstAtLeast(this.entries, (j) => this.#relativeOffsetAt(j), nextOffset - this.#baseOffset)
      const entry = this.#entryAt(bad)
      return {
        reason: `Index ${this.file} entry ${bad} (timestamp ${entry.timestamp}) has offset ${entry.offset}, at or past the segment's next offset ${nextOffset}`,
        position: bad * size,
      }
    }
    return undefined
  }
}
