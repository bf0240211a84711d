/**
 * Sequential scan of the batches in a `.log` file, reading it in large chunks so that a scan
 * costs one `pread` per chunk, not per batch. Used by segment recovery, `seglog verify` and
 * `seglog dump`.
 *
 * The scan stops at the first position where rule 1-4 of record-batch.ts fails, yielding an
 * `invalid` step with the problem. Every loop is bounded by the file's size.
 */
import * as io from '../file-io.js'
import { checkBatch, type BatchHeader, type BatchProblem, LOG_OVERHEAD_BYTES, BATCH_LENGTH_POS, MAGIC_POS, MAGIC, BATCH_HEADER_BYTES, MAX_BATCH_BYTES_DEFAULT } from './record-batch.js'

export const SCAN_CHUNK_BYTES = 1024 * 1024

export interface ScannedBatch {
  kind: 'batch'
  /** Byte position of the batch in the file. */
  position: number
  header: BatchHeader
  size: number
  /** The chunk holding the batch; the batch is at `buffer[at, at + size)`. Valid until the next step. */
  buffer: Buffer
  at: number
}

export interface InvalidBytes {
  kind: 'invalid'
  position: number
  problem: BatchProblem
  message: string
}

export type ScanStep = ScannedBatch | InvalidBytes

export interface ScanOptions {
  /** Where to start (a batch boundary). Default 0. */
  from?: number
  /** Where to stop; default the file's size when the scan starts. */
  end?: number
  maxBatchBytes?: number
  chunkBytes?: number
}

/** Yield each batch of the file open at `fd` from `from` to `end`, then stop or yield one `invalid`. */
export function* scanBatches(fd: number, options: ScanOptions = {}): Generator<ScanStep, void, undefined> {
  const maxBatchBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES_DEFAULT
  let end = options.end ?? io.fstatSize(fd)
  const chunkBytes = options.chunkBytes ?? SCAN_CHUNK_BYTES
  let buffer = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(end, 0)) || 1)
  let bufferPosition = options.from ?? 0 // file position of buffer[0]
  let bufferBytes = 0
  let position = bufferPosition
  while (position < end) {
    let at = position - bufferPosition
    // Make sure the whole batch header, then the whole batch, is in the buffer.
    let needed = Math.min(LOG_OVERHEAD_BYTES, end - position)
    if (at + LOG_OVERHEAD_BYTES <= bufferBytes) {
      const length = buffer.readInt32BE(at + BATCH_LENGTH_POS)
      if (length > 0 && length <= maxBatchBytes - LOG_OVERHEAD_BYTES) needed = Math.min(length + LOG_OVERHEAD_BYTES, end - position)
    }
    if (at + needed > bufferBytes) {
      const length = buffer.length >= needed ? buffer.length : Math.min(Math.max(needed, chunkBytes), maxBatchBytes)
      if (buffer.length < length) buffer = Buffer.allocUnsafe(length)
      bufferPosition = position
      at = 0
      const wanted = Math.min(buffer.length, end - position)
      bufferBytes = io.preadFully(fd, buffer, 0, wanted, position)
      if (bufferBytes < wanted) {
        // The file is shorter than `end` (it shrank under us, or the caller's end was past it):
        // scan what is there; a batch cut by the end is then reported as truncated.
        end = position + bufferBytes
        if (bufferBytes === 0) {
          yield { kind: 'invalid', position, problem: 'truncated', message: 'file ended while reading' }
          return
        }
      }
      continue
    }
    const check = checkBatch(buffer, at, Math.min(bufferBytes, end - bufferPosition), maxBatchBytes)
    if (!check.ok) {
      yield { kind: 'invalid', position, problem: check.problem, message: check.message }
      return
    }
    yield { kind: 'batch', position, header: check.header, size: check.size, buffer, at }
    position += check.size
  }
}

/**
 * Find the first position after `from` where a whole, CRC-valid batch starts whose baseOffset is
 * at least `minBaseOffset`: the resynchronisation point after damage. Returns -1 if none.
 * Cost: one pass over the bytes, a CRC only where magic and length are plausible.
 */
export function findNextValidBatch(fd: number, from: number, minBaseOffset: number, options: ScanOptions = {}): number {
  const maxBatchBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES_DEFAULT
  const end = options.end ?? io.fstatSize(fd)
  const chunkBytes = Math.max(options.chunkBytes ?? SCAN_CHUNK_BYTES, maxBatchBytes)
  const buffer = Buffer.allocUnsafe(Math.min(chunkBytes + maxBatchBytes, Math.max(end - from, 1)))
  let chunkStart = from
  while (chunkStart + BATCH_HEADER_BYTES <= end) {
    const bytes = io.preadFully(fd, buffer, 0, Math.min(buffer.length, end - chunkStart), chunkStart)
    // Candidates start in the first `scanBytes` of the buffer; the rest is room for their body.
    const scanBytes = chunkStart + bytes >= end ? bytes : Math.max(bytes - maxBatchBytes, 1)
    for (let at = 0; at < scanBytes && at + BATCH_HEADER_BYTES <= bytes; at++) {
      if (buffer[at + MAGIC_POS] !== MAGIC) continue
      const check = checkBatch(buffer, at, bytes, maxBatchBytes)
      if (check.ok && check.header.baseOffset >= minBaseOffset) return chunkStart + at
    }
    chunkStart += scanBytes
  }
  return -1
}
