/**
 * What an index entry looks like to the code shared by both indexes, and the pure functions over
 * entries in a Buffer: counting the entries of a file, and binary searches over sorted entries.
 */

/** Zeros to compare a Buffer against, a chunk at a time (scans are bounded by the Buffer's size). */
const ZERO_CHUNK_BYTES = 64 * 1024
const ZERO_CHUNK = Buffer.alloc(ZERO_CHUNK_BYTES)

/** The entry format of one kind of index, as the mapped file needs it. */
export interface EntryLayout {
  /** Size of one entry in bytes. */
  entryBytes: number
  /** Whether the entry at byte `pos` may follow the one at byte `prevPos` (the index's ordering). */
  follows(buf: Buffer, prevPos: number, pos: number): boolean
}

/** Whether `buf[start, end)` is all zeros. */
export function isZero(buf: Buffer, start: number, end: number): boolean {
  return firstNonZero(buf, start, end) === -1
}

/** Position of the first non-zero byte of `buf[start, end)`, or -1. */
export function firstNonZero(buf: Buffer, start: number, end: number): number {
  for (let chunk = start; chunk < end; chunk += ZERO_CHUNK_BYTES) {
    const chunkEnd = Math.min(end, chunk + ZERO_CHUNK_BYTES)
    if (buf.compare(ZERO_CHUNK, 0, chunkEnd - chunk, chunk, chunkEnd) === 0) continue
    for (let pos = chunk; pos < chunkEnd; pos++) if (buf[pos] !== 0) return pos
  }
  return -1
}

/**
 * Count the entries an index file holds, from its bytes alone.
 *
 * A writable index is preallocated with zeros, and after a crash it is still that long: the
 * entries are a prefix and the rest is zeros ("untrimmed"). An entry is never stored with a count,
 * so the count is the longest prefix of whole entries that is in order:
 *
 * 1. Entry 0 is present if the file holds at least one whole entry and
 *    (a) it is not all zeros, or
 *    (b) entry 1 is not all zeros and follows it (a real first entry may be all zeros: offset index
 *        (0, 0), time index (timestamp 0, relativeOffset 0)), or
 *    (c) the file is exactly one entry long and that is not the preallocation size, so it is a
 *        trimmed index whose only entry is all zeros.
 * 2. Entry i ≥ 1 is present if entry i − 1 is, it is not all zeros, and it follows entry i − 1
 *    (`layout.follows`: strictly increasing).
 *
 * Zero-filled slack is therefore never counted: an all-zero entry counts only as entry 0, and then
 * only per (b) or (c). The one file this reads as empty though it held an entry is a preallocation
 * of exactly one entry whose entry is all zeros; such an entry points at the segment's start, which
 * is where a lookup with no entry starts anyway. Entries after the first one out of order are not
 * counted; `firstBadSlot` finds them for a sanity check.
 */
export function countEntries(buf: Buffer, layout: EntryLayout, preallocatedBytes: number): number {
  const size = layout.entryBytes
  const slots = Math.floor(buf.length / size)
  if (slots === 0) return 0
  const firstPresent =
    !isZero(buf, 0, size) ||
    (slots >= 2 && !isZero(buf, size, 2 * size) && layout.follows(buf, 0, size)) ||
    (buf.length === size && size !== preallocatedBytes)
  if (!firstPresent) return 0
  let entries = 1
  while (entries < slots) {
    const pos = entries * size
    if (isZero(buf, pos, pos + size) || !layout.follows(buf, pos - size, pos)) break
    entries++
  }
  return entries
}

/**
 * Index of the largest entry whose key is ≤ `target`, or -1 if there is none. Binary search over
 * `entries` entries whose keys (`keyAt`) increase; at most ⌈log2(entries + 1)⌉ probes.
 */
export function largestAtMost(entries: number, keyAt: (i: number) => number, target: number): number {
  let lo = 0
  let hi = entries - 1
  let found = -1
  while (lo <= hi) {
    const mid = lo + Math.floor((hi - lo) / 2)
    if (keyAt(mid) <= target) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  return found
}

/** Index of the first entry whose key is ≥ `target` (`entries` if none): keys must not decrease. */
export function firstAtLeast(entries: number, keyAt: (i: number) => number, target: number): number {
  let lo = 0
  let hi = entries
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2)
    if (keyAt(mid) < target) lo = mid + 1
    else hi = mid
  }
  return lo
}
