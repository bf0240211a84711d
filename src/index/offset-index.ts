/**
 * The sparse offset index of a segment: which byte of the `.log` to start scanning from to find an
 * offset, without reading the `.log`.
 */
import assert from 'node:assert'
import { CorruptIndexError } from '../errors.js'
import { firstAtLeast, largestAtMost, type EntryLayout } from './entry-layout.js'
import { MappedFile, checkOpenOptions, type IndexOpenOptions, type IndexProblem } from './mapped-file.js'

/** An offset and the byte position in the `.log` of the batch to scan from to reach it. */
export interface OffsetPosition {
  /** Absolute offset. */
  offset: number
  /** Byte position in the segment's `.log`. */
  position: number
}

/*
 * Offset index file `<baseOffset 20 digits>.index`, exactly Kafka's: no header, no checksum,
 * entries back to back, big-endian.
 *
 * | pos | size | type | field          | meaning                                            |
 * |-----|------|------|----------------|----------------------------------------------------|
 * | 0   | 4    | u32  | relativeOffset | the batch's last offset − the segment's baseOffset |
 * | 4   | 4    | u32  | position       | byte position of the batch's start in the `.log`   |
 *
 * CRC coverage: none. An index is rebuilt from the `.log` whenever it fails a sanity check.
 * Both fields strictly increase from one entry to the next. A writable index is preallocated with
 * zeros to maxIndexBytes; a sealed one is trimmed to entries × OFFSET_INDEX_ENTRY_BYTES bytes.
 * Kafka reads both fields as signed int32, so a file Kafka is to read keeps them below 2^31.
 */
const RELATIVE_OFFSET_POS = 0
const RELATIVE_OFFSET_BYTES = 4
const POSITION_POS = RELATIVE_OFFSET_POS + RELATIVE_OFFSET_BYTES
const POSITION_BYTES = 4
/** Bytes of one offset index entry. */
export const OFFSET_INDEX_ENTRY_BYTES = POSITION_POS + POSITION_BYTES
assert(OFFSET_INDEX_ENTRY_BYTES === 8)

/** Largest relativeOffset an index entry can hold (u32). A segment rolls before it would need more. */
export const MAX_RELATIVE_OFFSET = 2 ** (8 * RELATIVE_OFFSET_BYTES) - 1
/** Largest position an index entry can hold (u32). */
export const MAX_INDEX_POSITION = 2 ** (8 * POSITION_BYTES) - 1

const layout: EntryLayout = {
  entryBytes: OFFSET_INDEX_ENTRY_BYTES,
  follows: (buf, prevPos, pos) =>
    buf.readUInt32BE(pos + RELATIVE_OFFSET_POS) > buf.readUInt32BE(prevPos + RELATIVE_OFFSET_POS) &&
    buf.readUInt32BE(pos + POSITION_POS) > buf.readUInt32BE(prevPos + POSITION_POS),
}

/**
 * A segment's offset index: a sparse, memory-mapped, sorted map from offset to the byte position of
 * a batch in the segment's `.log`. Kafka's `OffsetIndex`.
 *
 * @example
 * ```ts
 * const index = OffsetIndex.open(`${dir}/00000000000000000100.index`, {
 *   baseOffset: 100, maxIndexBytes: 10 * 1024 * 1024, writable: true,
 * })
 * index.append(109, 4150)               // the batch ending at offset 109 starts at byte 4150
 * index.lookup(120)                      // { offset: 109, position: 4150 }: scan the .log from there
 * index.close()                          // trims the file to its entries
 * ```
 */
export class OffsetIndex {
  #mapped: MappedFile
  readonly #baseOffset: number

  private constructor(mapped: MappedFile, baseOffset: number) {
    this.#mapped = mapped
    this.#baseOffset = baseOffset
  }

  /**
   * Open (a writable index: create if missing) the offset index `file`. The entries are counted
   * from the file's bytes, so an index left untrimmed by a crash opens with only its written
   * entries. Call {@link OffsetIndex.sanityCheck} before trusting it.
   *
   * @throws RangeError if an option is out of range; the file system's error if the file cannot be
   * opened, sized or mapped.
   */
  static open(file: string, options: IndexOpenOptions): OffsetIndex {
    checkOpenOptions(file, options, OFFSET_INDEX_ENTRY_BYTES)
    return new OffsetIndex(MappedFile.open(file, options, layout), options.baseOffset)
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

  /** Whether the index is writable and has no room for another entry: the segment must roll. */
  get isFull(): boolean {
    return this.#mapped.writable && this.#mapped.entries >= this.#mapped.slots
  }

  /** The last entry, or undefined if there is none. */
  lastEntry(): OffsetPosition | undefined {
    this.#mapped.assertOpen('read')
    return this.entries === 0 ? undefined : this.#entryAt(this.entries - 1)
  }

  /**
   * Entry `i` (0-based).
   *
   * @throws RangeError if `i` is not in [0, entries).
   */
  entryAt(i: number): OffsetPosition {
    this.#mapped.assertOpen('read')
    if (!Number.isInteger(i) || i < 0 || i >= this.entries) {
      throw new RangeError(`Cannot read entry ${i} of index ${this.file}: it has ${this.entries} entries`)
    }
    return this.#entryAt(i)
  }

  /**
   * Append an entry: the batch whose last offset is `offset` starts at byte `position` of the
   * `.log`. Offsets and positions must increase from entry to entry.
   *
   * @throws AssertionError if the index is read-only or full, or if `offset` or `position` is not
   * greater than the last entry's (all programmer errors); RangeError if `offset` is below the base
   * offset or more than {@link MAX_RELATIVE_OFFSET} above it, or `position` is not a u32.
   */
  append(offset: number, position: number): void {
    const mapped = this.#mapped
    mapped.assertOpen('append to')
    const relativeOffset = this.#relativeOffset(offset, 'append to')
    if (!Number.isInteger(position) || position < 0 || position > MAX_INDEX_POSITION) {
      throw new RangeError(`Cannot append to index ${this.file}: position ${position} is not in [0, ${MAX_INDEX_POSITION}]`)
    }
    mapped.assertAppendable()
    const last = this.lastEntry()
    if (last !== undefined) {
      assert(offset > last.offset, `Cannot append to index ${this.file}: offset ${offset} is not above the last entry's ${last.offset}`)
      assert(position > last.position, `Cannot append to index ${this.file}: position ${position} is not above the last entry's ${last.position}`)
    }
    const pos = mapped.entries * OFFSET_INDEX_ENTRY_BYTES
    mapped.buf.writeUInt32BE(relativeOffset, pos + RELATIVE_OFFSET_POS)
    mapped.buf.writeUInt32BE(position, pos + POSITION_POS)
    mapped.appended()
  }

  /**
   * The entry with the largest offset ≤ `targetOffset`, or `{ offset: baseOffset, position: 0 }`
   * if there is none: where to start scanning the `.log` for `targetOffset`. Binary search; the
   * `.log` is not read.
   */
  lookup(targetOffset: number): OffsetPosition {
    this.#mapped.assertOpen('look up in')
    if (Number.isNaN(targetOffset)) throw new RangeError(`Cannot look up in index ${this.file}: the target offset is NaN`)
    const i = largestAtMost(this.entries, (j) => this.#relativeOffsetAt(j), targetOffset - this.#baseOffset)
    return i === -1 ? { offset: this.#baseOffset, position: 0 } : this.#entryAt(i)
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
   * Check the index against its `.log` and its own rules: undefined if sane, else a sentence naming
   * the first problem found. Cheap: reads the entries' bytes, not the `.log`. Checks that the
   * entries strictly increase through the whole file (a sealed index is trimmed, so every entry
   * counts; in a writable one, every byte after the entries is zero), that relative offsets do not
   * overflow a safe integer, that positions lie inside the `.log` (`logBytes` long), and that a
   * sealed file is a whole number of entries. A failed check means: rebuild the index.
   */
  sanityCheck(logBytes: number): string | undefined {
    return this.#findProblem(logBytes)?.reason
  }

  /**
   * {@link OffsetIndex.sanityCheck}, throwing instead of returning the problem.
   *
   * @throws CorruptIndexError with the file and the byte position of the first problem.
   */
  assertSane(logBytes: number): void {
    const problem = this.#findProblem(logBytes)
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

  /** {@link OffsetIndex.close}. */
  [Symbol.dispose](): void {
    this.close()
  }

  /** {@link OffsetIndex.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
  }

  #relativeOffsetAt(i: number): number {
    return this.#mapped.buf.readUInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + RELATIVE_OFFSET_POS)
  }

  #entryAt(i: number): OffsetPosition {
    const pos = i * OFFSET_INDEX_ENTRY_BYTES
    const buf = this.#mapped.buf
    return {
      offset: this.#baseOffset + buf.readUInt32BE(pos + RELATIVE_OFFSET_POS),
      position: buf.readUInt32BE(pos + POSITION_POS),
    }
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

  #findProblem(logBytes: number): IndexProblem | undefined {
    this.#mapped.assertOpen('check')
    const buf = this.#mapped.buf
    const size = OFFSET_INDEX_ENTRY_BYTES
    const shape = this.#mapped.shapeProblem(
      (i) => `(relativeOffset ${buf.readUInt32BE(i * size + RELATIVE_OFFSET_POS)}, position ${buf.readUInt32BE(i * size + POSITION_POS)})`,
    )
    if (shape !== undefined) return shape
    const last = this.lastEntry()
    if (last === undefined) return undefined
    if (!Number.isSafeInteger(last.offset)) {
      return { reason: `Index ${this.file} entry ${this.entries - 1} has offset ${last.offset}, beyond 2^53 - 1`, position: (this.entries - 1) * size }
    }
    if (last.position >= logBytes) {
      // Positions increase, so the first entry past the end of the .log is found by binary search.
      const first = largestAtMost(this.entries, (j) => buf.readUInt32BE(j * size + POSITION_POS), logBytes - 1) + 1
      const entry = this.#entryAt(first)
      return {
        reason: `Index ${this.file} entry ${first} (offset ${entry.offset}) has position ${entry.position}, past the end of the ${logBytes}-byte log`,
        position: first * size,
      }
    }
    return undefined
  }
}
