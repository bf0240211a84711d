/**
 * RecordBatch v2: Kafka's on-disk and on-wire batch format, byte for byte.
 *
 * A batch (all integers big-endian):
 *
 * | pos | size | field                     | CRC? | notes                                        |
 * |-----|------|---------------------------|------|----------------------------------------------|
 * |   0 |    8 | baseOffset int64          | no   | assigned at append; patched without re-CRC   |
 * |   8 |    4 | batchLength int32         | no   | bytes after this field (= size − 12)         |
 * |  12 |    4 | partitionLeaderEpoch int32| no   | 0 when written by seglog                     |
 * |  16 |    1 | magic int8                | no   | 2; any other value is not this format        |
 * |  17 |    4 | crc uint32                | no   | CRC-32C of bytes [21, size)                  |
 * |  21 |    2 | attributes int16          | yes  | bits 0-2 codec, 3 log-append-time, 4 transactional, 5 control, 6 delete-horizon |
 * |  23 |    4 | lastOffsetDelta int32     | yes  | lastOffset − baseOffset                      |
 * |  27 |    8 | baseTimestamp int64       | yes  | first record's timestamp                     |
 * |  35 |    8 | maxTimestamp int64        | yes  |                                              |
 * |  43 |    8 | producerId int64          | yes  | -1 = none                                    |
 * |  51 |    2 | producerEpoch int16       | yes  | -1 = none                                    |
 * |  53 |    4 | baseSequence int32        | yes  | -1 = none                                    |
 * |  57 |    4 | recordsCount int32        | yes  |                                              |
 * |  61 |    … | records                   | yes  | one gzip block when codec = 1                |
 *
 * A record (varints are zigzag, see varint.ts):
 *
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
 *   headerCount varint | headerCount × (keyLength varint | UTF-8 key | valueLength varint (-1 = null) | value)
 *
 * Validity rules, checked in this order before any field is trusted or any memory allocated:
 *   1. at least 12 bytes are present and 49 ≤ batchLength ≤ maxBatchBytes − 12;
 *   2. the batchLength + 12 bytes are present (else the batch is truncated: a torn write at a tail);
 *   3. magic = 2;
 *   4. the CRC-32C of [21, size) equals the stored crc.
 * Records are decoded only from a batch that passed all four; a record that overruns its batch is
 * still reported as corruption (the CRC protects against the disk, not against a faulty writer).
 */
import zlib from 'node:zlib'
import { CorruptRecordError, RecordTooLargeError, UnsupportedFormatError } from '../errors.js'
import { crc32c } from './crc32c.js'
import { readVarlong, sizeOfVarlong, VARINT_BYTES_MAX, writeVarlong, type VarintRead } from './varint.js'

export const BASE_OFFSET_POS = 0
export const BATCH_LENGTH_POS = 8
export const PARTITION_LEADER_EPOCH_POS = 12
export const MAGIC_POS = 16
export const CRC_POS = 17
export const ATTRIBUTES_POS = 21
export const LAST_OFFSET_DELTA_POS = 23
export const BASE_TIMESTAMP_POS = 27
export const MAX_TIMESTAMP_POS = 35
export const PRODUCER_ID_POS = 43
export const PRODUCER_EPOCH_POS = 51
export const BASE_SEQUENCE_POS = 53
export const RECORDS_COUNT_POS = 57
export const RECORDS_POS = 61
/** Bytes of the batch header; also the size of a batch with no records. */
export const BATCH_HEADER_BYTES = RECORDS_POS
/** Bytes before batchLength's coverage begins (baseOffset + batchLength). */
export const LOG_OVERHEAD_BYTES = PARTITION_LEADER_EPOCH_POS
/** Smallest legal batchLength: a header with no records. */
export const BATCH_LENGTH_MIN = BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES
export const MAGIC = 2
/** A record's fixed minimum: length, attributes, timestampDelta, offsetDelta, keyLength, valueLength, headerCount. */
const RECORD_BYTES_MIN = 7

const CODEC_MASK = 0x07
const TIMESTAMP_TYPE_BIT = 0x08
const TRANSACTIONAL_BIT = 0x10
const CONTROL_BIT = 0x20
const DELETE_HORIZON_BIT = 0x40

export const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const
export type Codec = (typeof CODECS)[number]

/** Bytes as callers give them: a string is written as UTF-8. */
export type Bytes = Buffer | Uint8Array | string
/** Headers as an object, or as ordered `[key, value]` pairs (duplicates kept). */
export type HeadersInput = Readonly<Record<string, Bytes | null>> | ReadonlyArray<readonly [string, Bytes | null]>
/** A record to append. `timestamp` defaults to the time of the append (ms since the epoch). */
export interface RecordInput {
  key?: Bytes | null
  value: Bytes | null
  headers?: HeadersInput
  timestamp?: number
}
/** A header as read back: key and value bytes (`null` kept). */
export type RecordHeader = [key: string, value: Buffer | null]
/** A record as read back. `key` and `value` are views into the read buffer, not copies. */
export interface LogRecord {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

/** The fixed fields of a batch. */
export interface BatchHeader {
  baseOffset: number
  batchLength: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordsCount: number
}

export interface EncodeOptions {
  compression?: 'none' | 'gzip'
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  isTransactional?: boolean
  isControl?: boolean
  /** Written into baseOffset; callers usually patch it at append time with {@link setBaseOffset}. */
  baseOffset?: number
  /** Timestamp for records that carry none; defaults to `Date.now()`. */
  now?: number
  /** Largest encoded record accepted, in bytes (default 1 MiB). */
  maxRecordBytes?: number
  /** Largest batch accepted, in bytes (default 16 MiB). */
  maxBatchBytes?: number
  /**
   * Indexes of records to leave out while keeping their offset slots: the others keep offset
   * delta = their index, and lastOffsetDelta still counts every record (message-id dedup).
   */
  skip?: ReadonlySet<number>
  /** Offset delta of each record (default: its index); compaction keeps a survivor's original offset. */
  offsetDeltas?: readonly number[]
  /** lastOffsetDelta to write (default: records − 1). With it, a batch of no records is allowed (an idempotent producer's last batch kept by compaction). */
  lastOffsetDelta?: number
  /**
   * Kafka's delete horizon (attribute bit 6): compaction keeps the batch's tombstones until this
   * time; it is stored as baseTimestamp, and record timestamps stay exact as deltas from it.
   */
  deleteHorizonMs?: number
}

export const MAX_RECORD_BYTES_DEFAULT = 1024 * 1024
/** Largest timestamp written: 2^50 ms (year 37,648), so that zigzag deltas (≤ 2^52) stay exact. */
export const TIMESTAMP_MAX = 2 ** 50
export const MAX_BATCH_BYTES_DEFAULT = 16 * 1024 * 1024
const EMPTY_HEADERS: RecordHeader[] = []
Object.freeze(EMPTY_HEADERS)

export function batchSize(header: BatchHeader): number {
  return header.batchLength + LOG_OVERHEAD_BYTES
}
export function lastOffsetOf(header: BatchHeader): number {
  return header.baseOffset + header.lastOffsetDelta
}
export function codecOf(header: BatchHeader): Codec | `unknown(${number})` {
  const id = header.attributes & CODEC_MASK
  return CODECS[id] ?? `unknown(${id})`
}
export function isControlBatch(header: BatchHeader): boolean {
  return (header.attributes & CONTROL_BIT) !== 0
}
export function isTransactionalBatch(header: BatchHeader): boolean {
  return (header.attributes & TRANSACTIONAL_BIT) !== 0
}
export function hasLogAppendTime(header: BatchHeader): boolean {
  return (header.attributes & TIMESTAMP_TYPE_BIT) !== 0
}
export function hasDeleteHorizon(header: BatchHeader): boolean {
  return (header.attributes & DELETE_HORIZON_BIT) !== 0
}

/** Set a batch's baseOffset in place. baseOffset is outside the CRC, so the CRC stays valid. */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  batch.writeBigInt64BE(BigInt(baseOffset), BASE_OFFSET_POS)
}

function readInt64(buf: Buffer, pos: number): number {
  // Two 32-bit reads are much cheaper than readBigInt64BE; exact for |value| < 2^53.
  return buf.readInt32BE(pos) * 0x1_0000_0000 + buf.readUInt32BE(pos + 4)
}

function writeInt64(buf: Buffer, pos: number, value: number): void {
  const high = Math.floor(value / 0x1_0000_0000)
  buf.writeInt32BE(high, pos)
  buf.writeUInt32BE(value - high * 0x1_0000_0000, pos + 4)
}

/** Read the fixed fields of the batch at `pos`. Trusts nothing and checks nothing: see checkBatch. */
export function readBatchHeader(buf: Buffer, pos: number): BatchHeader {
  return {
    baseOffset: readInt64(buf, pos + BASE_OFFSET_POS),
    batchLength: buf.readInt32BE(pos + BATCH_LENGTH_POS),
    partitionLeaderEpoch: buf.readInt32BE(pos + PARTITION_LEADER_EPOCH_POS),
    magic: buf.readInt8(pos + MAGIC_POS),
    crc: buf.readUInt32BE(pos + CRC_POS),
    attributes: buf.readInt16BE(pos + ATTRIBUTES_POS),
    lastOffsetDelta: buf.readInt32BE(pos + LAST_OFFSET_DELTA_POS),
    baseTimestamp: readInt64(buf, pos + BASE_TIMESTAMP_POS),
    maxTimestamp: readInt64(buf, pos + MAX_TIMESTAMP_POS),
    producerId: readInt64(buf, pos + PRODUCER_ID_POS),
    producerEpoch: buf.readInt16BE(pos + PRODUCER_EPOCH_POS),
    baseSequence: buf.readInt32BE(pos + BASE_SEQUENCE_POS),
    recordsCount: buf.readInt32BE(pos + RECORDS_COUNT_POS),
  }
}

/** Why a batch failed its checks. `truncated` at the end of a file is what a torn write leaves. */
export type BatchProblem = 'truncated' | 'bad-length' | 'bad-magic' | 'bad-crc' | 'bad-offsets'
export type BatchCheck =
  | { ok: true; header: BatchHeader; size: number }
  | { ok: false; problem: BatchProblem; message: string }

/**
 * Check the batch at `pos` in `buf[.., end)` against validity rules 1-4 (see the file comment),
 * plus the header's own consistency (offsets and counts not negative). Never throws on bad bytes.
 */
export function checkBatch(buf: Buffer, pos: number, end: number, maxBatchBytes: number): BatchCheck {
  const available = end - pos
  if (available < LOG_OVERHEAD_BYTES) {
    return { ok: false, problem: 'truncated', message: `only ${available} bytes left, a batch header needs ${BATCH_HEADER_BYTES}` }
  }
  const batchLength = buf.readInt32BE(pos + BATCH_LENGTH_POS)
  if (batchLength < BATCH_LENGTH_MIN || batchLength > maxBatchBytes - LOG_OVERHEAD_BYTES) {
    return {
      ok: false,
      problem: 'bad-length',
      message: `batchLength ${batchLength} is outside [${BATCH_LENGTH_MIN}, ${maxBatchBytes - LOG_OVERHEAD_BYTES}]`,
    }
  }
  const size = batchLength + LOG_OVERHEAD_BYTES
  if (size > available) {
    return { ok: false, problem: 'truncated', message: `batch of ${size} bytes but only ${available} bytes left` }
  }
  const magic = buf.readInt8(pos + MAGIC_POS)
  if (magic !== MAGIC) {
    return { ok: false, problem: 'bad-magic', message: `magic is ${magic}, expected ${MAGIC}` }
  }
  const stored = buf.readUInt32BE(pos + CRC_POS)
  const computed = crc32c(buf.subarray(pos + ATTRIBUTES_POS, pos + size))
  if (stored !== computed) {
    return {
      ok: false,
      problem: 'bad-crc',
      message: `CRC-32C is 0x${computed.toString(16).padStart(8, '0')}, header says 0x${stored.toString(16).padStart(8, '0')}`,
    }
  }
  const header = readBatchHeader(buf, pos)
  if (header.baseOffset < 0 || header.baseOffset > Number.MAX_SAFE_INTEGER - 0x7fff_ffff || header.lastOffsetDelta < 0 || header.recordsCount < 0) {
    return {
      ok: false,
      problem: 'bad-offsets',
      message: `baseOffset ${header.baseOffset}, lastOffsetDelta ${header.lastOffsetDelta}, recordsCount ${header.recordsCount} are not valid`,
    }
  }
  return { ok: true, header, size }
}

function byteLengthOf(bytes: Bytes): number {
  return typeof bytes === 'string' ? Buffer.byteLength(bytes, 'utf8') : bytes.byteLength
}

function writeBytes(buf: Buffer, pos: number, bytes: Bytes, length: number): number {
  if (typeof bytes === 'string') buf.write(bytes, pos, length, 'utf8')
  else buf.set(bytes, pos)
  return pos + length
}

function checkBytes(bytes: unknown, what: string, index: number): void {
  if (bytes === null || typeof bytes === 'string' || bytes instanceof Uint8Array) return
  throw new TypeError(`Cannot encode record ${index}: ${what} must be a Buffer, Uint8Array, string or null, got ${typeof bytes}`)
}

type HeaderPairs = ReadonlyArray<readonly [string, Bytes | null]>

function headerPairs(headers: HeadersInput | undefined, index: number): HeaderPairs {
  if (headers === undefined) return []
  if (Array.isArray(headers)) return headers as HeaderPairs
  if (typeof headers !== 'object' || headers === null) {
    throw new TypeError(`Cannot encode record ${index}: headers must be an object or an array of [key, value] pairs`)
  }
  return Object.entries(headers as Record<string, Bytes | null>)
}

/** Sizes computed in the first pass, reused by the second so no length is computed twice. */
interface Measured {
  keyBytes: number
  valueBytes: number
  headers: HeaderPairs
  headerBytes: number[]
  bodyBytes: number
  timestamp: number
}

function measure(record: RecordInput, index: number, offsetDelta: number, timestampDelta: number, timestamp: number): Measured {
  if (record === null || typeof record !== 'object') throw new TypeError(`Cannot encode record ${index}: expected an object`)
  const key = record.key ?? null
  checkBytes(key, 'key', index)
  checkBytes(record.value, 'value', index)
  const keyBytes = key === null ? -1 : byteLengthOf(key)
  const valueBytes = record.value === null ? -1 : byteLengthOf(record.value)
  const headers = headerPairs(record.headers, index)
  const headerBytes: number[] = []
  let body = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarlong(offsetDelta)
  body += sizeOfVarlong(keyBytes) + Math.max(keyBytes, 0)
  body += sizeOfVarlong(valueBytes) + Math.max(valueBytes, 0)
  body += sizeOfVarlong(headers.length)
  for (const pair of headers) {
    const [hKey, hValue] = pair
    if (typeof hKey !== 'string') throw new TypeError(`Cannot encode record ${index}: a header key must be a string`)
    checkBytes(hValue, `header '${hKey}'`, index)
    const hKeyBytes = Buffer.byteLength(hKey, 'utf8')
    const hValueBytes = hValue === null ? -1 : byteLengthOf(hValue)
    headerBytes.push(hKeyBytes, hValueBytes)
    body += sizeOfVarlong(hKeyBytes) + hKeyBytes + sizeOfVarlong(hValueBytes) + Math.max(hValueBytes, 0)
  }
  return { keyBytes, valueBytes, headers, headerBytes, bodyBytes: body, timestamp }
}

function writeRecord(buf: Buffer, pos: number, record: RecordInput, m: Measured, offsetDelta: number, baseTimestamp: number): number {
  pos = writeVarlong(buf, pos, m.bodyBytes)
  buf[pos++] = 0
  pos = writeVarlong(buf, pos, m.timestamp - baseTimestamp)
  pos = writeVarlong(buf, pos, offsetDelta)
  pos = writeVarlong(buf, pos, m.keyBytes)
  if (m.keyBytes >= 0) pos = writeBytes(buf, pos, record.key as Bytes, m.keyBytes)
  pos = writeVarlong(buf, pos, m.valueBytes)
  if (m.valueBytes >= 0) pos = writeBytes(buf, pos, record.value as Bytes, m.valueBytes)
  pos = writeVarlong(buf, pos, m.headers.length)
  for (let h = 0; h < m.headers.length; h++) {
    const [hKey, hValue] = m.headers[h] as readonly [string, Bytes | null]
    const hKeyBytes = m.headerBytes[2 * h] as number
    const hValueBytes = m.headerBytes[2 * h + 1] as number
    pos = writeVarlong(buf, pos, hKeyBytes)
    pos += buf.write(hKey, pos, hKeyBytes, 'utf8')
    pos = writeVarlong(buf, pos, hValueBytes)
    if (hValueBytes >= 0) pos = writeBytes(buf, pos, hValue as Bytes, hValueBytes)
  }
  return pos
}

/**
 * Encode `records` as one RecordBatch v2, CRC included. Throws `TypeError` for malformed input,
 * `RecordTooLargeError` when a record or the batch exceeds its maximum.
 */
export function encodeBatch(records: readonly RecordInput[], options: EncodeOptions = {}): Buffer {
  if (!Array.isArray(records) || (records.length === 0 && options.lastOffsetDelta === undefined)) {
    throw new TypeError('Cannot encode batch: records must be a non-empty array')
  }
  const maxRecordBytes = options.maxRecordBytes ?? MAX_RECORD_BYTES_DEFAULT
  const maxBatchBytes = options.maxBatchBytes ?? MAX_BATCH_BYTES_DEFAULT
  const now = options.now ?? Date.now()
  const skip = options.skip
  const kept: number[] = []
  for (let i = 0; i < records.length; i++) if (skip === undefined || !skip.has(i)) kept.push(i)
  const deltas = options.offsetDeltas
  const deltaOf = (i: number): number => (deltas === undefined ? i : (deltas[i] as number))
  const lastOffsetDelta = options.lastOffsetDelta ?? records.length - 1
  if (kept.length === 0 && options.lastOffsetDelta === undefined) throw new TypeError('Cannot encode batch: every record is skipped')
  const first = kept.length === 0 ? undefined : (records[kept[0] as number] as RecordInput)
  const baseTimestamp = options.deleteHorizonMs ?? first?.timestamp ?? now
  let maxTimestamp = -Infinity
  let recordsBytes = 0
  const measured: Measured[] = new Array(records.length)
  for (const i of kept) {
    const record = records[i] as RecordInput
    const timestamp = record?.timestamp ?? now
    // -1 means "no timestamp" (as in Kafka); the upper bound keeps every zigzag delta exact in a double.
    if (!Number.isSafeInteger(timestamp) || timestamp < -1 || timestamp > TIMESTAMP_MAX) {
      throw new RangeError(`Cannot encode record ${i}: timestamp ${timestamp} is not an integer in [-1, ${TIMESTAMP_MAX}]`)
    }
    const m = measure(record, i, deltaOf(i), timestamp - baseTimestamp, timestamp)
    const total = sizeOfVarlong(m.bodyBytes) + m.bodyBytes
    if (total > maxRecordBytes) {
      throw new RecordTooLargeError(`Cannot append record ${i}: size is ${total} bytes, max is ${maxRecordBytes}`)
    }
    measured[i] = m
    recordsBytes += total
    if (timestamp > maxTimestamp) maxTimestamp = timestamp
  }
  const gzip = options.compression === 'gzip'
  if (!gzip && BATCH_HEADER_BYTES + recordsBytes > maxBatchBytes) {
    throw new RecordTooLargeError(`Cannot append batch: size is ${BATCH_HEADER_BYTES + recordsBytes} bytes, max is ${maxBatchBytes}`)
  }
  let out: Buffer
  if (gzip) {
    const raw = Buffer.allocUnsafe(recordsBytes)
    let pos = 0
    for (const i of kept) pos = writeRecord(raw, pos, records[i] as RecordInput, measured[i] as Measured, deltaOf(i), baseTimestamp)
    const compressed = zlib.gzipSync(raw)
    if (BATCH_HEADER_BYTES + compressed.length > maxBatchBytes) {
      throw new RecordTooLargeError(`Cannot append batch: compressed size is ${BATCH_HEADER_BYTES + compressed.length} bytes, max is ${maxBatchBytes}`)
    }
    out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + compressed.length)
    compressed.copy(out, RECORDS_POS)
  } else {
    out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + recordsBytes)
    let pos: number = RECORDS_POS
    for (const i of kept) pos = writeRecord(out, pos, records[i] as RecordInput, measured[i] as Measured, deltaOf(i), baseTimestamp)
  }
  let attributes = gzip ? 1 : 0
  if (options.isTransactional === true) attributes |= TRANSACTIONAL_BIT
  if (options.isControl === true) attributes |= CONTROL_BIT
  if (options.deleteHorizonMs !== undefined) attributes |= DELETE_HORIZON_BIT
  writeInt64(out, BASE_OFFSET_POS, options.baseOffset ?? 0)
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_POS)
  out.writeInt32BE(0, PARTITION_LEADER_EPOCH_POS)
  out.writeInt8(MAGIC, MAGIC_POS)
  out.writeInt16BE(attributes, ATTRIBUTES_POS)
  out.writeInt32BE(lastOffsetDelta, LAST_OFFSET_DELTA_POS)
  writeInt64(out, BASE_TIMESTAMP_POS, baseTimestamp)
  writeInt64(out, MAX_TIMESTAMP_POS, kept.length === 0 ? -1 : maxTimestamp)
  writeInt64(out, PRODUCER_ID_POS, options.producerId ?? -1)
  out.writeInt16BE(options.producerEpoch ?? -1, PRODUCER_EPOCH_POS)
  out.writeInt32BE(options.baseSequence ?? -1, BASE_SEQUENCE_POS)
  out.writeInt32BE(kept.length, RECORDS_COUNT_POS)
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_POS)), CRC_POS)
  return out
}

/** Where the batch being decoded lives, for error messages. */
export interface DecodeContext {
  file?: string
  /** Position of the batch in `file`. */
  position?: number
  /** Bound on the decompressed size of a gzip batch (default 16 MiB). */
  maxBatchBytes?: number
}

/**
 * Return the records section of a checked batch, decompressed if needed. Codec 0 returns a view.
 * Throws `UnsupportedFormatError` naming the codec for snappy, lz4 and zstd.
 */
export function batchRecordsBytes(buf: Buffer, pos: number, header: BatchHeader, ctx: DecodeContext = {}): Buffer {
  const start = pos + RECORDS_POS
  const end = pos + batchSize(header)
  const codec = codecOf(header)
  if (codec === 'none') return buf.subarray(start, end)
  if (codec === 'gzip') {
    const maxOutputLength = ctx.maxBatchBytes ?? MAX_BATCH_BYTES_DEFAULT
    try {
      return zlib.gunzipSync(buf.subarray(start, end), { maxOutputLength })
    } catch (err) {
      throw new CorruptRecordError(`Cannot decompress gzip batch at offset ${header.baseOffset}: ${(err as Error).message}`, detailsOf(ctx, err))
    }
  }
  throw new UnsupportedFormatError(
    `Cannot read batch at offset ${header.baseOffset}: compression codec '${codec}' is not supported (only none and gzip)`,
    detailsOf(ctx),
  )
}

function detailsOf(ctx: DecodeContext, cause?: unknown): { file?: string; position?: number; cause?: unknown } {
  const details: { file?: string; position?: number; cause?: unknown } = {}
  if (ctx.file !== undefined) details.file = ctx.file
  if (ctx.position !== undefined) details.position = ctx.position
  if (cause !== undefined) details.cause = cause
  return details
}

/**
 * Decode the records of a batch that passed {@link checkBatch}. Keys and values are views into
 * `buf` (or into the decompressed block), not copies. Records with an offset below `fromOffset`
 * are skipped without allocating them.
 */
export function decodeRecords(buf: Buffer, pos: number, header: BatchHeader, ctx: DecodeContext = {}, fromOffset = 0): LogRecord[] {
  const bytes = batchRecordsBytes(buf, pos, header, ctx)
  const end = bytes.length
  const count = header.recordsCount
  const fail = (what: string, at: number): never => {
    throw new CorruptRecordError(
      `Cannot decode record ${what} in batch at offset ${header.baseOffset}${ctx.file === undefined ? '' : ` of ${ctx.file}`}: it overruns the batch (byte ${at} of ${end})`,
      detailsOf(ctx),
    )
  }
  if (count * RECORD_BYTES_MIN > end) fail(`count ${count}`, 0)
  const records: LogRecord[] = []
  const logAppendTime = hasLogAppendTime(header)
  const v: VarintRead = { value: 0, next: 0 }
  let p = 0
  for (let i = 0; i < count; i++) {
    if (readVarlong(bytes, p, end, v, VARINT_BYTES_MAX).next < 0) fail(`${i} length`, p)
    const recordEnd = v.next + v.value
    if (v.value < RECORD_BYTES_MIN - 1 || recordEnd > end) fail(`${i} length ${v.value}`, p)
    p = v.next + 1 // attributes int8, unused
    if (readVarlong(bytes, p, recordEnd, v).next < 0) fail(`${i} timestamp`, p)
    // With log-append time, every record carries the batch's time (Kafka's rule).
    const timestamp = logAppendTime ? header.maxTimestamp : header.baseTimestamp + v.value
    p = v.next
    if (readVarlong(bytes, p, recordEnd, v, VARINT_BYTES_MAX).next < 0) fail(`${i} offset delta`, p)
    const offset = header.baseOffset + v.value
    p = v.next
    if (offset < fromOffset) {
      p = recordEnd
      continue
    }
    if (readVarlong(bytes, p, recordEnd, v, VARINT_BYTES_MAX).next < 0) fail(`${i} key length`, p)
    let key: Buffer | null = null
    p = v.next
    if (v.value >= 0) {
      if (p + v.value > recordEnd) fail(`${i} key`, p)
      key = bytes.subarray(p, p + v.value)
      p += v.value
    } else if (v.value !== -1) fail(`${i} key length ${v.value}`, p)
    if (readVarlong(bytes, p, recordEnd, v, VARINT_BYTES_MAX).next < 0) fail(`${i} value length`, p)
    let value: Buffer | null = null
    p = v.next
    if (v.value >= 0) {
      if (p + v.value > recordEnd) fail(`${i} value`, p)
      value = bytes.subarray(p, p + v.value)
      p += v.value
    } else if (v.value !== -1) fail(`${i} value length ${v.value}`, p)
    if (readVarlong(bytes, p, recordEnd, v, VARINT_BYTES_MAX).next < 0) fail(`${i} header count`, p)
    const headerCount = v.value
    p = v.next
    if (headerCount < 0 || headerCount * 2 > recordEnd - p) fail(`${i} header count ${headerCount}`, p)
    let headers = EMPTY_HEADERS
    if (headerCount > 0) {
      headers = new Array(headerCount)
      for (let h = 0; h < headerCount; h++) {
        if (readVarlong(bytes, p, recordEnd, v, VARINT_BYTES_MAX).next < 0 || v.value < 0 || v.next + v.value > recordEnd) fail(`${i} header ${h} key`, p)
        const hKey = bytes.toString('utf8', v.next, v.next + v.value)
        p = v.next + v.value
        if (readVarlong(bytes, p, recordEnd, v, VARINT_BYTES_MAX).next < 0 || v.value < -1 || v.next + v.value > recordEnd) fail(`${i} header ${h} value`, p)
        p = v.next
        let hValue: Buffer | null = null
        if (v.value >= 0) {
          hValue = bytes.subarray(p, p + v.value)
          p += v.value
        }
        headers[h] = [hKey, hValue]
      }
    }
    if (p !== recordEnd) fail(`${i} (its fields end ${recordEnd - p} bytes before its length says)`, p)
    records.push({ offset, timestamp, key, value, headers })
  }
  if (p !== end) fail(`section (${end - p} bytes after the last record)`, p)
  return records
}
