/**
 * RecordBatch v2 codec: round trip (property-based), one test per validation branch of
 * checkBatch (LevelDB-style: change one byte, fix up the CRC where needed, assert the exact
 * problem), varints against hand-computed bytes, and decoding of hostile but CRC-valid batches.
 */
import zlib from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CorruptRecordError, RecordTooLargeError, UnsupportedFormatError } from '../../src/errors.js'
import { crc32c } from '../../src/segment/crc32c.js'
import {
  ATTRIBUTES_POS,
  BASE_OFFSET_POS,
  BATCH_LENGTH_POS,
  BATCH_LENGTH_MIN,
  checkBatch,
  codecOf,
  CRC_POS,
  decodeRecords,
  encodeBatch,
  isControlBatch,
  isTransactionalBatch,
  LAST_OFFSET_DELTA_POS,
  lastOffsetOf,
  LOG_OVERHEAD_BYTES,
  MAGIC_POS,
  MAX_BATCH_BYTES_DEFAULT,
  PARTITION_LEADER_EPOCH_POS,
  RECORDS_COUNT_POS,
  RECORDS_POS,
  type BatchHeader,
  type Bytes,
  type HeadersInput,
  type RecordInput,
} from '../../src/segment/record-batch.js'
import { readVarlong, sizeOfVarlong, VARINT_BYTES_MAX, VARLONG_BYTES_MAX, writeVarlong, type VarintRead } from '../../src/segment/varint.js'

const MAX = MAX_BATCH_BYTES_DEFAULT

/** Recompute the CRC of the batch at `pos` after an edit of the bytes it covers. */
function fixCrc(batch: Buffer, pos = 0): void {
  const size = batch.readInt32BE(pos + BATCH_LENGTH_POS) + LOG_OVERHEAD_BYTES
  batch.writeUInt32BE(crc32c(batch.subarray(pos + ATTRIBUTES_POS, pos + size)), pos + CRC_POS)
}

/** A copy of `batch` with its records section replaced (length and CRC fixed up). */
function withRecordsSection(batch: Buffer, records: Buffer): Buffer {
  const out = Buffer.concat([batch.subarray(0, RECORDS_POS), records])
  out.writeInt32BE(out.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_POS)
  fixCrc(out)
  return out
}

function headerOf(batch: Buffer): BatchHeader {
  const check = checkBatch(batch, 0, batch.length, MAX)
  if (!check.ok) throw new Error(`test batch is invalid: ${check.problem}: ${check.message}`)
  return check.header
}

function hex(buf: Buffer): string {
  return buf.toString('hex')
}

/** Bytes as the decoder returns them: strings become their UTF-8 encoding. */
function asBuffer(bytes: Bytes | null | undefined): Buffer | null {
  if (bytes === null || bytes === undefined) return null
  return typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes)
}

function expectedHeaders(headers: HeadersInput | undefined): Array<[string, Buffer | null]> {
  if (headers === undefined) return []
  const pairs = Array.isArray(headers) ? (headers as ReadonlyArray<readonly [string, Bytes | null]>) : Object.entries(headers as Record<string, Bytes | null>)
  return pairs.map(([k, v]) => [Buffer.from(k, 'utf8').toString('utf8'), asBuffer(v)])
}

// A small batch used by the validation tests: two records, one header, 100-odd bytes.
const SMALL = encodeBatch(
  [
    { key: 'k1', value: 'v1', timestamp: 10, headers: { h: 'x' } },
    { key: null, value: 'v2', timestamp: 11 },
  ],
  { baseOffset: 5 },
)

describe('encodeBatch → checkBatch → decodeRecords', () => {
  const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
  // fast-check prints the seed (and the shrunk counterexample) on failure; this line makes the
  // seed of a passing run visible too, for FC_SEED=… to replay it.
  console.log(`record-batch round trip: fast-check seed ${seed} (replay with FC_SEED=${seed})`)

  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    // Lone surrogates are not valid UTF-16: they are written as U+FFFD, as Buffer.from does.
    fc.string({ unit: fc.constantFrom('a', '\ud800', '\udfff', 'é', '\u{1f431}'), maxLength: 8 }),
  )
  const bytes: fc.Arbitrary<Bytes | null> = fc.oneof(
    fc.constant(null),
    fc.constant(''),
    fc.constant(Buffer.alloc(0)),
    text,
    fc.uint8Array({ maxLength: 64 }),
    fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  )
  const headers: fc.Arbitrary<HeadersInput | undefined> = fc.oneof(
    fc.constant(undefined),
    fc.dictionary(text, bytes, { maxKeys: 4 }),
    // Ordered pairs keep duplicates and order, as Kafka's headers do.
    fc.array(fc.tuple(fc.oneof(fc.constantFrom('dup', '', 'msg-id'), text), bytes), { maxLength: 5 }),
  )
  // -1 is Kafka's "no timestamp"; the rest spans today's milliseconds and far beyond (2^50, the largest accepted).
  const timestamp = fc.oneof(fc.constant(-1), fc.constant(0), fc.integer({ min: 0, max: 2 ** 41 }), fc.integer({ min: 0, max: 2 ** 50 }))
  const record: fc.Arbitrary<RecordInput> = fc.record(
    { key: bytes, value: bytes, headers, timestamp },
    { requiredKeys: ['value'] },
  ) as fc.Arbitrary<RecordInput>
  const options = fc.record({
    compression: fc.constantFrom('none' as const, 'gzip' as const),
    baseOffset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 0x7fff_ffff })),
    producerId: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 53 - 1 })),
    producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
    baseSequence: fc.integer({ min: -1, max: 0x7fff_ffff }),
    isTransactional: fc.boolean(),
    isControl: fc.boolean(),
  })

  it('decodes every record exactly as it was given (keys, values, headers, timestamps, offsets)', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 12 }), options, (records, opts) => {
        const now = 1_700_000_000_000
        const batch = encodeBatch(records, { ...opts, now })
        const check = checkBatch(batch, 0, batch.length, MAX)
        expect(check.ok).toBe(true)
        if (!check.ok) return
        const { header } = check
        const timestamps = records.map((r) => r.timestamp ?? now)
        expect(check.size).toBe(batch.length)
        expect(header.baseOffset).toBe(opts.baseOffset)
        expect(header.recordsCount).toBe(records.length)
        expect(lastOffsetOf(header)).toBe(opts.baseOffset + records.length - 1)
        expect(header.baseTimestamp).toBe(timestamps[0])
        expect(header.maxTimestamp).toBe(Math.max(...timestamps))
        expect(header.producerId).toBe(opts.producerId)
        expect(header.producerEpoch).toBe(opts.producerEpoch)
        expect(header.baseSequence).toBe(opts.baseSequence)
        expect(codecOf(header)).toBe(opts.compression)
        expect(isTransactionalBatch(header)).toBe(opts.isTransactional)
        expect(isControlBatch(header)).toBe(opts.isControl)
        const decoded = decodeRecords(batch, 0, header)
        expect(decoded).toEqual(
          records.map((r, i) => ({
            offset: opts.baseOffset + i,
            timestamp: timestamps[i],
            key: asBuffer(r.key),
            value: asBuffer(r.value),
            headers: expectedHeaders(r.headers),
          })),
        )
      }),
      { seed, numRuns: 300, verbose: true },
    )
  })

  it('decodes a batch found at a non-zero position of a larger buffer', () => {
    const other = encodeBatch([{ value: 'first', timestamp: 1 }], { baseOffset: 0 })
    const buf = Buffer.concat([other, SMALL, Buffer.from([1, 2, 3])])
    const check = checkBatch(buf, other.length, buf.length, MAX)
    expect(check.ok && check.size).toBe(SMALL.length)
    if (!check.ok) return
    expect(decodeRecords(buf, other.length, check.header).map((r) => [r.offset, r.value?.toString()])).toEqual([
      [5, 'v1'],
      [6, 'v2'],
    ])
  })

  // The varlong of `timestamp - baseTimestamp` is exact only while its zigzag value stays below
  // 2^53, so timestamps are bounded to [-1, 2^50] and anything else is refused.
  it('rejects, or round-trips exactly, timestamps 2^52 or more apart', () => {
    for (const timestamps of [
      [Number.MAX_SAFE_INTEGER, 0],
      [2 ** 52 + 1, -3],
    ]) {
      let batch: Buffer
      try {
        batch = encodeBatch(timestamps.map((timestamp) => ({ value: 'v', timestamp })))
      } catch (err) {
        expect(err).toBeInstanceOf(RangeError)
        continue
      }
      expect(decodeRecords(batch, 0, headerOf(batch)).map((r) => r.timestamp)).toEqual(timestamps)
    }
  })
})

describe('checkBatch', () => {
  it('accepts the small test batch', () => {
    const check = checkBatch(SMALL, 0, SMALL.length, MAX)
    expect(check).toMatchObject({ ok: true, size: SMALL.length, header: { baseOffset: 5, recordsCount: 2, lastOffsetDelta: 1 } })
  })

  it('reports truncated when the batch is cut at every byte length', () => {
    for (let length = 0; length < SMALL.length; length++) {
      const cut = Buffer.from(SMALL.subarray(0, length))
      const check = checkBatch(cut, 0, length, MAX)
      const message =
        length < LOG_OVERHEAD_BYTES
          ? `only ${length} bytes left, a batch header needs ${RECORDS_POS}`
          : `batch of ${SMALL.length} bytes but only ${length} bytes left`
      expect(check, `cut at ${length}`).toEqual({ ok: false, problem: 'truncated', message })
    }
  })

  it('reports truncated when `end` cuts a batch inside a larger buffer', () => {
    const check = checkBatch(SMALL, 0, SMALL.length - 1, MAX)
    expect(check).toEqual({ ok: false, problem: 'truncated', message: `batch of ${SMALL.length} bytes but only ${SMALL.length - 1} bytes left` })
  })

  it('reports bad-length for a batchLength below a bare header', () => {
    for (const batchLength of [BATCH_LENGTH_MIN - 1, 0, -1, -0x8000_0000]) {
      const batch = Buffer.from(SMALL)
      batch.writeInt32BE(batchLength, BATCH_LENGTH_POS)
      expect(checkBatch(batch, 0, batch.length, MAX)).toEqual({
        ok: false,
        problem: 'bad-length',
        message: `batchLength ${batchLength} is outside [${BATCH_LENGTH_MIN}, ${MAX - LOG_OVERHEAD_BYTES}]`,
      })
    }
  })

  it('reports bad-length for a batchLength above maxBatchBytes, before looking for the bytes', () => {
    for (const batchLength of [MAX - LOG_OVERHEAD_BYTES + 1, 0x7fff_ffff]) {
      const batch = Buffer.from(SMALL)
      batch.writeInt32BE(batchLength, BATCH_LENGTH_POS)
      expect(checkBatch(batch, 0, batch.length, MAX)).toEqual({
        ok: false,
        problem: 'bad-length',
        message: `batchLength ${batchLength} is outside [${BATCH_LENGTH_MIN}, ${MAX - LOG_OVERHEAD_BYTES}]`,
      })
    }
  })

  it('bounds the whole batch, its 12 bytes of overhead included, by maxBatchBytes', () => {
    expect(checkBatch(SMALL, 0, SMALL.length, SMALL.length).ok).toBe(true)
    expect(checkBatch(SMALL, 0, SMALL.length, SMALL.length - 1)).toMatchObject({ ok: false, problem: 'bad-length' })
  })

  it('reports bad-magic for every magic other than 2', () => {
    for (const magic of [0, 1, 3, -1, 0x7f]) {
      const batch = Buffer.from(SMALL)
      batch.writeInt8(magic, MAGIC_POS) // magic is outside the CRC: no fix-up needed
      expect(checkBatch(batch, 0, batch.length, MAX)).toEqual({ ok: false, problem: 'bad-magic', message: `magic is ${magic}, expected 2` })
    }
  })

  it('reports bad-crc for a flipped bit at every bit of the CRC-covered region', () => {
    const stored = SMALL.readUInt32BE(CRC_POS)
    for (let byte = ATTRIBUTES_POS; byte < SMALL.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const batch = Buffer.from(SMALL)
        batch[byte] = (batch[byte] as number) ^ (1 << bit)
        const computed = crc32c(batch.subarray(ATTRIBUTES_POS))
        const hex8 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`
        expect(checkBatch(batch, 0, batch.length, MAX), `byte ${byte} bit ${bit}`).toEqual({
          ok: false,
          problem: 'bad-crc',
          message: `CRC-32C is ${hex8(computed)}, header says ${hex8(stored)}`,
        })
      }
    }
  })

  it('reports bad-crc for a flipped bit of the stored CRC itself', () => {
    for (let bit = 0; bit < 32; bit++) {
      const batch = Buffer.from(SMALL)
      batch.writeUInt32BE((batch.readUInt32BE(CRC_POS) ^ (1 << bit)) >>> 0, CRC_POS)
      expect(checkBatch(batch, 0, batch.length, MAX)).toMatchObject({ ok: false, problem: 'bad-crc' })
    }
  })

  it('does not detect a changed partitionLeaderEpoch, which the CRC does not cover (as in Kafka)', () => {
    const batch = Buffer.from(SMALL)
    batch.writeInt32BE(7, PARTITION_LEADER_EPOCH_POS)
    expect(checkBatch(batch, 0, batch.length, MAX)).toMatchObject({ ok: true, header: { partitionLeaderEpoch: 7 } })
  })

  it('reports bad-offsets for a negative baseOffset (outside the CRC)', () => {
    const batch = Buffer.from(SMALL)
    batch.writeBigInt64BE(-1n, BASE_OFFSET_POS)
    expect(checkBatch(batch, 0, batch.length, MAX)).toEqual({
      ok: false,
      problem: 'bad-offsets',
      message: 'baseOffset -1, lastOffsetDelta 1, recordsCount 2 are not valid',
    })
  })

  it('reports bad-offsets for a baseOffset whose last offset could pass 2^53 - 1', () => {
    const ok = Buffer.from(SMALL)
    ok.writeBigInt64BE(BigInt(Number.MAX_SAFE_INTEGER - 0x7fff_ffff), BASE_OFFSET_POS)
    expect(checkBatch(ok, 0, ok.length, MAX).ok).toBe(true)
    const bad = Buffer.from(SMALL)
    bad.writeBigInt64BE(BigInt(Number.MAX_SAFE_INTEGER - 0x7fff_ffff + 1), BASE_OFFSET_POS)
    expect(checkBatch(bad, 0, bad.length, MAX)).toMatchObject({ ok: false, problem: 'bad-offsets' })
  })

  it('reports bad-offsets for a negative lastOffsetDelta or recordsCount (CRC fixed up)', () => {
    for (const [pos, field] of [
      [LAST_OFFSET_DELTA_POS, 'lastOffsetDelta'],
      [RECORDS_COUNT_POS, 'recordsCount'],
    ] as const) {
      const batch = Buffer.from(SMALL)
      batch.writeInt32BE(-1, pos)
      fixCrc(batch)
      const check = checkBatch(batch, 0, batch.length, MAX)
      expect(check).toMatchObject({ ok: false, problem: 'bad-offsets' })
      expect(!check.ok && check.message).toContain(`${field} -1`)
    }
  })
})

describe('varints (zigzag)', () => {
  // Hand-computed: zigzag(v) = v >= 0 ? 2v : -2v - 1, then 7 bits per byte, low group first.
  const cases: Array<[number, string]> = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [63, '7e'],
    [-64, '7f'],
    [64, '8001'],
    [-65, '8101'],
    [2 ** 31 - 1, 'feffffff0f'], // zigzag 0xfffffffe
    [-(2 ** 31), 'ffffffff0f'], // zigzag 0xffffffff
    [2 ** 31, '8080808010'], // zigzag 2^32: the first value a 32-bit varint cannot hold
    [-(2 ** 31) - 1, '8180808010'],
    [1_702_641_303_557, '8a80a4d58d63'], // a Kafka timestamp: zigzag 3405282607114
    [2 ** 51 - 1, 'feffffffffffff07'], // zigzag 2^52 - 2: 52 bits, 7 groups of 7 and 3 bits
    [-(2 ** 51), 'ffffffffffffff07'],
    [Number.MAX_SAFE_INTEGER, 'feffffffffffff1f'], // zigzag 2^54 - 2: 7 groups of 7 and 5 bits
  ]

  it.each(cases)('writes %d as %s and reads it back', (value, bytes) => {
    const expected = Buffer.from(bytes, 'hex')
    expect(sizeOfVarlong(value)).toBe(expected.length)
    const buf = Buffer.alloc(VARLONG_BYTES_MAX + 2, 0xaa)
    expect(writeVarlong(buf, 1, value)).toBe(1 + expected.length)
    expect(hex(buf.subarray(1, 1 + expected.length))).toBe(bytes)
    expect(buf[0]).toBe(0xaa) // nothing written outside
    expect(buf[1 + expected.length]).toBe(0xaa)
    const out: VarintRead = { value: NaN, next: NaN }
    expect(readVarlong(expected, 0, expected.length, out)).toEqual({ value, next: expected.length })
  })

  it('refuses a varint longer than its maximum', () => {
    const six = Buffer.from('808080808000', 'hex') // a 6-byte encoding of 0
    const out: VarintRead = { value: 0, next: 0 }
    expect(readVarlong(six, 0, six.length, out, VARINT_BYTES_MAX).next).toBe(-1)
    expect(readVarlong(six, 0, six.length, out, VARLONG_BYTES_MAX)).toEqual({ value: 0, next: 6 })
    const eleven = Buffer.from('8080808080808080808000', 'hex')
    expect(readVarlong(eleven, 0, eleven.length, out).next).toBe(-1)
  })

  it('refuses a varint that runs past the end, without reading past it', () => {
    const buf = Buffer.from('80808001', 'hex')
    const out: VarintRead = { value: 0, next: 0 }
    for (let end = 0; end < buf.length; end++) expect(readVarlong(buf, 0, end, out).next, `end ${end}`).toBe(-1)
    expect(readVarlong(buf, 0, buf.length, out)).toEqual({ value: 2 ** 20, next: 4 }) // zigzag 2^21
  })
})

describe('decodeRecords on CRC-valid but unreadable batches', () => {
  it.each([
    [2, 'snappy'],
    [3, 'lz4'],
    [4, 'zstd'],
  ])('throws UnsupportedFormatError naming the codec for codec %d (%s)', (id, name) => {
    const batch = Buffer.from(SMALL)
    batch.writeInt16BE(id, ATTRIBUTES_POS)
    fixCrc(batch)
    const header = headerOf(batch)
    expect(codecOf(header)).toBe(name)
    let error: unknown
    try {
      decodeRecords(batch, 0, header, { file: 'x.log', position: 0 })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(UnsupportedFormatError)
    expect(error).toMatchObject({ code: 'ERR_UNSUPPORTED_FORMAT', file: 'x.log', position: 0 })
    expect((error as Error).message).toBe(`Cannot read batch at offset 5: compression codec '${name}' is not supported (only none and gzip)`)
  })

  it('names codec ids 5-7, which no Kafka version defines, as unknown', () => {
    const batch = Buffer.from(SMALL)
    batch.writeInt16BE(5, ATTRIBUTES_POS)
    fixCrc(batch)
    expect(codecOf(headerOf(batch))).toBe('unknown(5)')
    expect(() => decodeRecords(batch, 0, headerOf(batch))).toThrow(/codec 'unknown\(5\)'/)
  })

  it('stops a gzip bomb at maxBatchBytes with a CorruptRecordError, not an out-of-memory', () => {
    const gzipped = encodeBatch([{ value: 'x', timestamp: 1 }], { compression: 'gzip' })
    // 256 MiB of zeros compress to ~250 KiB: a small batch that would inflate far past the bound.
    const bomb = withRecordsSection(gzipped, zlib.gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 }))
    expect(bomb.length).toBeLessThan(MAX)
    const header = headerOf(bomb)
    for (const maxBatchBytes of [1024 * 1024, undefined]) {
      const ctx = maxBatchBytes === undefined ? {} : { maxBatchBytes }
      expect(() => decodeRecords(bomb, 0, header, ctx)).toThrow(CorruptRecordError)
      expect(() => decodeRecords(bomb, 0, header, ctx)).toThrow(/Cannot decompress gzip batch at offset 0/)
    }
  })

  it('reports a gzip section that is not gzip as corrupt', () => {
    const gzipped = encodeBatch([{ value: 'x', timestamp: 1 }], { compression: 'gzip' })
    const bad = withRecordsSection(gzipped, Buffer.from('not gzip at all'))
    expect(() => decodeRecords(bad, 0, headerOf(bad))).toThrow(CorruptRecordError)
  })

  // The CRC protects against the disk, not against a faulty writer: each of these is CRC-valid.
  const overruns: Array<[string, (batch: Buffer) => void]> = [
    ['a record length past the end of the batch', (b) => (b[RECORDS_POS] = 0x7e)], // 63 bytes
    ['a record length too small for a record', (b) => (b[RECORDS_POS] = 0x02)],
    ['a key length past its record', (b) => (b[RECORDS_POS + 4] = 0x7e)],
    ['a key length below -1', (b) => (b[RECORDS_POS + 4] = 0x03)],
    ['a recordsCount above the records present', (b) => b.writeInt32BE(3, RECORDS_COUNT_POS)],
    ['a recordsCount far above the batch size', (b) => b.writeInt32BE(0x7fff_ffff, RECORDS_COUNT_POS)],
    ['a recordsCount below the records present', (b) => b.writeInt32BE(1, RECORDS_COUNT_POS)],
    ['a varint that never ends', (b) => b.fill(0xff, RECORDS_POS)],
  ]

  it.each(overruns)('throws CorruptRecordError for %s', (_, edit) => {
    const batch = Buffer.from(SMALL)
    edit(batch)
    fixCrc(batch)
    const header = headerOf(batch)
    expect(() => decodeRecords(batch, 0, header, { file: 'x.log', position: 0 })).toThrow(CorruptRecordError)
  })

  it('never throws anything but CorruptRecordError on random CRC-valid damage to the records', () => {
    const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31)
    console.log(`record-batch damage: fast-check seed ${seed}`)
    const recordsBytes = SMALL.length - RECORDS_POS
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(recordsBytes - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (edits) => {
        const batch = Buffer.from(SMALL)
        for (const [at, value] of edits) batch[RECORDS_POS + at] = value
        fixCrc(batch)
        try {
          decodeRecords(batch, 0, headerOf(batch))
        } catch (err) {
          if (!(err instanceof CorruptRecordError)) throw err
        }
      }),
      { seed, numRuns: 2000 },
    )
  })
})

describe('encodeBatch limits', () => {
  it('throws RecordTooLargeError naming the record, its size and the maximum', () => {
    // Record body: attributes 1 + timestampDelta 1 + offsetDelta 1 + keyLength(-1) 1
    // + valueLength(2000) 2 + value 2000 + headerCount 1 = 2007 bytes; its length varint
    // (zigzag 4014) takes 2 more: 2009.
    expect(() => encodeBatch([{ value: Buffer.alloc(2000), timestamp: 0 }], { maxRecordBytes: 1000 })).toThrow(
      new RecordTooLargeError('Cannot append record 0: size is 2009 bytes, max is 1000'),
    )
    let error: unknown
    try {
      encodeBatch([{ value: 'small', timestamp: 0 }, { value: Buffer.alloc(2000), timestamp: 0 }], { maxRecordBytes: 2008 })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(RecordTooLargeError)
    expect(error).toMatchObject({ code: 'ERR_RECORD_TOO_LARGE', message: 'Cannot append record 1: size is 2009 bytes, max is 2008' })
    expect(() => encodeBatch([{ value: Buffer.alloc(2000), timestamp: 0 }], { maxRecordBytes: 2009 })).not.toThrow()
  })

  it('throws RecordTooLargeError for a batch above maxBatchBytes', () => {
    const records = [{ value: Buffer.alloc(100), timestamp: 0 }, { value: Buffer.alloc(100), timestamp: 0 }]
    const size = encodeBatch(records).length
    expect(() => encodeBatch(records, { maxBatchBytes: size })).not.toThrow()
    expect(() => encodeBatch(records, { maxBatchBytes: size - 1 })).toThrow(
      new RecordTooLargeError(`Cannot append batch: size is ${size} bytes, max is ${size - 1}`),
    )
  })
})

describe('log-append time', () => {
  // Kafka: when attribute bit 3 is set, every record's timestamp is the batch's maxTimestamp.
  it('gives every record the batch maxTimestamp when the log-append-time bit is set', () => {
    const batch = encodeBatch([
      { value: 'a', timestamp: 5 },
      { value: 'b', timestamp: 9 },
    ])
    batch.writeInt16BE(batch.readInt16BE(21) | 0x08, 21)
    batch.writeUInt32BE(crc32c(batch.subarray(21)), 17)
    const check = checkBatch(batch, 0, batch.length, 1 << 24)
    if (!check.ok) throw new Error(check.message)
    expect(decodeRecords(batch, 0, check.header).map((r) => r.timestamp)).toEqual([9, 9])
  })
})
