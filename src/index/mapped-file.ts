/**
 * The memory-mapped file under an index: opening, counting the entries it holds, growing, trimming,
 * flushing and closing. `OffsetIndex` and `TimeIndex` differ only in their entry layout, which they
 * describe with an `EntryLayout`; everything about the file lives here. How the entries are counted
 * on open is `countEntries`, in `entry-layout.ts`.
 *
 * Two modes:
 * - **writable** (the writer's active segment): the file is created if missing, grown with zeros to
 *   the preallocation size and mapped shared read/write. Closing it trims it to its entries.
 * - **read-only** (a sealed segment, or a process that only reads): the existing bytes are mapped
 *   read-only, and the file is never created, grown or truncated.
 *
 * `@riaskov/mmap-io` has no munmap: a mapping is released when its Buffer is garbage-collected. So
 * after the file shrinks, the old mapping is dropped (never touched again, since bytes past the end
 * of a file raise SIGBUS) and the file is mapped again at its new length.
 */
import assert from 'node:assert'
import fs from 'node:fs'
import mmapModule from '@riaskov/mmap-io'
import { ClosedError } from '../errors.js'
import * as io from '../file-io.js'
import { countEntries, firstNonZero, isZero, type EntryLayout } from './entry-layout.js'

// The package's types say `export default`, but its runtime is `module.exports = mmap`, so under
// nodenext the default import is the object itself while TypeScript types it as `{ default }`.
type Mmap = typeof mmapModule.default
const mmap = mmapModule as unknown as Mmap

const EMPTY = Buffer.alloc(0)
/** Bytes zeroed at a time when resetting: only chunks that hold a non-zero byte are written. */
const ZERO_CHUNK_BYTES = 64 * 1024

/** How to open an index file. */
export interface IndexOpenOptions {
  /** The segment's base offset (from its file name). */
  baseOffset: number
  /**
   * Size a writable index is preallocated to, rounded down to whole entries. The index holds at
   * most that many entries; a read-only index ignores it except to recognise an untrimmed file.
   */
  maxIndexBytes: number
  /**
   * `true` for the writer's active segment: the file is created if missing, preallocated to
   * `maxIndexBytes` and mapped read/write. `false` for a sealed segment or a reading process: only
   * the existing bytes are mapped, read-only; a missing or empty file is an empty index.
   */
  writable: boolean
  /** File mode when the file is created. Default `0o600`. */
  mode?: number
}

/** A sanity check's finding: a sentence, and the byte position in the index file it concerns. */
export interface IndexProblem {
  reason: string
  position: number
}

/** Check the options every index takes; bad arguments are a RangeError. */
export function checkOpenOptions(file: string, options: IndexOpenOptions, entryBytes: number): void {
  const { baseOffset, maxIndexBytes } = options
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) {
    throw new RangeError(`Cannot open index ${file}: baseOffset ${baseOffset} is not an integer in [0, 2^53)`)
  }
  if (!Number.isSafeInteger(maxIndexBytes) || maxIndexBytes < 0) {
    throw new RangeError(`Cannot open index ${file}: maxIndexBytes ${maxIndexBytes} is not a non-negative integer`)
  }
  if (options.writable && maxIndexBytes < entryBytes) {
    throw new RangeError(
      `Cannot open index ${file}: maxIndexBytes is ${maxIndexBytes}, a writable index needs at least one ${entryBytes}-byte entry`,
    )
  }
}

/** An index file and its mapping. Owned by one OffsetIndex or TimeIndex. */
export class MappedFile {
  readonly file: string
  readonly layout: EntryLayout
  #fd: number | undefined
  #buf: Buffer
  #writable: boolean
  #closed = false
  #entries: number
  /** End of the bytes that may not be zero: the file's opened length, or the furthest entry written. */
  #writtenEnd: number
  /** Written through the mapping (or trimmed) since the last flush. */
  #dirty = false

  private constructor(file: string, layout: EntryLayout, fd: number | undefined, buf: Buffer, writable: boolean, entries: number, openedBytes: number) {
    this.file = file
    this.layout = layout
    this.#fd = fd
    this.#buf = buf
    this.#writable = writable
    this.#entries = entries
    this.#writtenEnd = Math.min(openedBytes, buf.length)
  }

  /** Open `file` as described in the module comment. Options must have been checked. */
  static open(file: string, options: IndexOpenOptions, layout: EntryLayout): MappedFile {
    const size = layout.entryBytes
    const preallocatedBytes = options.maxIndexBytes - (options.maxIndexBytes % size)
    if (!options.writable) return MappedFile.#openReadOnly(file, layout, preallocatedBytes)

    const fd = io.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT, options.mode ?? 0o600)
    try {
      const openedBytes = io.fstatSize(fd)
      const entries = countEntries(map(fd, openedBytes, false), layout, preallocatedBytes)
      // Keep every entry even if the file was preallocated larger than this open asks for.
      const mappedBytes = Math.max(preallocatedBytes, entries * size)
      if (openedBytes !== mappedBytes) io.ftruncate(fd, mappedBytes)
      return new MappedFile(file, layout, fd, map(fd, mappedBytes, true), true, entries, openedBytes)
    } catch (err) {
      io.close(fd)
      throw err
    }
  }

  static #openReadOnly(file: string, layout: EntryLayout, preallocatedBytes: number): MappedFile {
    let fd: number
    try {
      fd = io.open(file, fs.constants.O_RDONLY)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      return new MappedFile(file, layout, undefined, EMPTY, false, 0, 0)
    }
    // The mapping outlives the descriptor, and a read-only index never needs it again.
    try {
      const openedBytes = io.fstatSize(fd)
      const buf = map(fd, openedBytes, false)
      return new MappedFile(file, layout, undefined, buf, false, countEntries(buf, layout, preallocatedBytes), openedBytes)
    } finally {
      io.close(fd)
    }
  }

  /** The mapping: the whole file, or an empty Buffer for an empty file. Never write to a read-only one. */
  get buf(): Buffer {
    return this.#buf
  }

  get writable(): boolean {
    return this.#writable
  }

  get closed(): boolean {
    return this.#closed
  }

  get entries(): number {
    return this.#entries
  }

  /** Whole entries the mapping has room for. */
  get slots(): number {
    return Math.floor(this.#buf.length / this.layout.entryBytes)
  }

  /** Throw a ClosedError if closed; `action` completes "Cannot … index <file>". */
  assertOpen(action: string): void {
    if (this.#closed) throw new ClosedError(`Cannot ${action} index ${this.file}: it is closed`, { file: this.file })
  }

  /** Assert the index can take another entry: a programmer error otherwise (roll the segment first). */
  assertAppendable(): void {
    assert(this.#writable, `Cannot append to index ${this.file}: it is read-only (sealed)`)
    assert(this.#entries < this.slots, `Cannot append to index ${this.file}: it is full (${this.#entries} entries)`)
  }

  /** Count the entry just written at slot `entries` in. */
  appended(): void {
    this.#entries++
    this.#writtenEnd = Math.max(this.#writtenEnd, this.#entries * this.layout.entryBytes)
    this.#dirty = true
  }

  /** Keep the first `entries` entries, zeroing the rest so a crash cannot bring them back. */
  truncateEntries(entries: number): void {
    assert(this.#writable, `Cannot truncate index ${this.file}: it is read-only (sealed); reopen it writable`)
    assert(entries >= 0 && entries <= this.#entries)
    if (entries === this.#entries) return
    this.#buf.fill(0, entries * this.layout.entryBytes, this.#entries * this.layout.entryBytes)
    this.#entries = entries
    this.#dirty = true
  }

  /** Remove every entry and zero every byte that may hold one, counted or not. */
  reset(): void {
    assert(this.#writable, `Cannot reset index ${this.file}: it is read-only (sealed); reopen it writable`)
    for (let chunk = 0; chunk < this.#writtenEnd; chunk += ZERO_CHUNK_BYTES) {
      const chunkEnd = Math.min(this.#writtenEnd, chunk + ZERO_CHUNK_BYTES)
      if (!isZero(this.#buf, chunk, chunkEnd)) this.#buf.fill(0, chunk, chunkEnd)
    }
    this.#entries = 0
    this.#writtenEnd = 0
    this.#dirty = true
  }

  /**
   * The first problem with the file's shape, or undefined. A read-only index was trimmed, so it must
   * be a whole number of entries, every one of them counted. In a writable index every byte after the
   * entries must be zero. Either way, a slot that is not counted but should be means an entry out of
   * order, an untrimmed file, or damage. `describe(i)` names the fields of entry i for the message.
   */
  shapeProblem(describe: (i: number) => string): IndexProblem | undefined {
    const size = this.layout.entryBytes
    const bytes = this.#buf.length
    if (!this.#writable && bytes % size !== 0) {
      return {
        reason: `Index ${this.file} is ${bytes} bytes long, not a whole number of ${size}-byte entries`,
        position: bytes - (bytes % size),
      }
    }
    const bad = this.#firstBadSlot()
    if (bad === -1) return undefined
    const pos = bad * size
    let reason: string
    if (!isZero(this.#buf, pos, pos + size)) {
      reason =
        bad === 0
          ? `Index ${this.file} entry 0 ${describe(0)} is not counted`
          : `Index ${this.file} entry ${bad} ${describe(bad)} does not follow entry ${bad - 1} ${describe(bad - 1)}: entries must strictly increase`
    } else if (bad === 0) {
      reason = `Index ${this.file} entry 0 is all zeros and no increasing entry follows it: the file is untrimmed (preallocated) or damaged`
    } else {
      reason = `Index ${this.file} entry ${bad} is all zeros after entry ${bad - 1} ${describe(bad - 1)}: the file is untrimmed (preallocated) or damaged`
    }
    return { reason, position: pos }
  }

  /**
   * The first slot after the entries that should not be there, or -1. In a read-only index every
   * whole slot is meant to be an entry, so any slot after them is one; in a writable index the
   * bytes after the entries are meant to be zeros, so a slot holding a non-zero byte is.
   */
  #firstBadSlot(): number {
    const size = this.layout.entryBytes
    if (!this.#writable) return this.#entries < this.slots ? this.#entries : -1
    const start = this.#entries * size
    const pos = firstNonZero(this.#buf, start, Math.max(start, this.#writtenEnd))
    return pos === -1 ? -1 : Math.floor(pos / size)
  }

  /** Make the entries durable: msync the mapping, or fdatasync the file once it was trimmed. */
  flush(): void {
    if (!this.#dirty) return
    if (this.#writable) mmap.sync(this.#buf, 0, this.#buf.length, true)
    else if (this.#fd !== undefined) io.fdatasyncSync(this.#fd)
    this.#dirty = false
  }

  /** Shrink a writable file to exactly its entries and map it read-only; a no-op otherwise. */
  trim(): void {
    if (!this.#writable || this.#fd === undefined) return
    const bytes = this.#entries * this.layout.entryBytes
    io.ftruncate(this.#fd, bytes)
    // Past the new end the old mapping raises SIGBUS: drop it, never to be touched again.
    this.#buf = EMPTY
    this.#writable = false
    this.#buf = map(this.#fd, bytes, false)
    this.#writtenEnd = bytes
    this.#dirty = true
  }

  /** Trim if writable, then release the file. Idempotent; the file is released even if trimming fails. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    try {
      this.trim()
    } finally {
      this.#buf = EMPTY
      this.#writable = false
      const fd = this.#fd
      this.#fd = undefined
      if (fd !== undefined) io.close(fd)
    }
  }
}

/** Map `bytes` bytes of `fd` shared; mmap refuses a length of 0, so an empty file maps to an empty Buffer. */
function map(fd: number, bytes: number, writable: boolean): Buffer {
  if (bytes === 0) return EMPTY
  const protection = (writable ? mmap.PROT_READ | mmap.PROT_WRITE : mmap.PROT_READ) as Parameters<Mmap['map']>[1]
  return mmap.map(bytes, protection, mmap.MAP_SHARED, fd, 0)
}
