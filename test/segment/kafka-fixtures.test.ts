/**
 * Interop: segment files written by real Kafka brokers decode exactly as the table in
 * ../shared/fixtures/kafka/README.md says (counts read with an independent parser). Files are read
 * in place and never modified. Where the folder is absent (a clone without shared/ beside it),
 * the tests skip and say so.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import * as io from '../../src/file-io.js'
import { scanBatches, type ScannedBatch } from '../../src/segment/batch-scanner.js'
import { codecOf, decodeRecords, isControlBatch, lastOffsetOf, type LogRecord } from '../../src/segment/record-batch.js'

import { KAFKA_FIXTURES, kafkaFixturesPresent } from '../kafka-fixtures-folder.js'

const present = kafkaFixturesPresent()

interface Expected {
  batches: number
  records: number
  controlBatches: number
  firstOffset: number
  lastOffset: number
}

// The README's table.
const TABLE: Record<string, Expected> = {
  'test-topic-75B.log': { batches: 1, records: 1, controlBatches: 0, firstOffset: 0, lastOffset: 0 },
  'test-topic-83B.log': { batches: 1, records: 2, controlBatches: 0, firstOffset: 0, lastOffset: 1 },
  'cluster-metadata-2076B.log': { batches: 21, records: 24, controlBatches: 1, firstOffset: 0, lastOffset: 23 },
  'cluster-metadata-2239B.log': { batches: 23, records: 26, controlBatches: 2, firstOffset: 0, lastOffset: 25 },
  'cluster-metadata-5505B.log': { batches: 45, records: 94, controlBatches: 1, firstOffset: 0, lastOffset: 93 },
}

interface Read {
  size: number
  batches: Array<{ batch: Omit<ScannedBatch, 'buffer'>; records: LogRecord[] }>
  invalid: unknown[]
  end: number
}

/** Scan and decode a fixture, copying each batch's records out of the scanner's reused buffer. */
function read(name: string): Read {
  const file = path.join(KAFKA_FIXTURES, name)
  const fd = io.open(file, fs.constants.O_RDONLY)
  try {
    const size = io.fstatSize(fd)
    const result: Read = { size, batches: [], invalid: [], end: 0 }
    for (const step of scanBatches(fd)) {
      if (step.kind === 'invalid') {
        result.invalid.push(step)
        continue
      }
      const copy = Buffer.from(step.buffer.subarray(step.at, step.at + step.size))
      const { buffer: _, ...batch } = step
      result.batches.push({ batch, records: decodeRecords(copy, 0, step.header, { file, position: step.position }) })
      result.end = step.position + step.size
    }
    return result
  } finally {
    io.close(fd)
  }
}

describe.skipIf(!present)(`real Kafka segments in ${KAFKA_FIXTURES}`, () => {
  it('has exactly the five files of the README table', () => {
    expect(
      fs
        .readdirSync(KAFKA_FIXTURES)
        .filter((f) => f.endsWith('.log'))
        .sort(),
    ).toEqual(Object.keys(TABLE).sort())
  })

  it.each(Object.entries(TABLE))('%s decodes as the README says', (name, expected) => {
    const { size, batches, invalid, end } = read(name)
    expect(invalid).toEqual([]) // every CRC valid, every bound respected
    expect(end).toBe(size) // no trailing bytes
    expect(batches).toHaveLength(expected.batches)
    expect(batches.filter((b) => isControlBatch(b.batch.header))).toHaveLength(expected.controlBatches)
    const records = batches.flatMap((b) => b.records)
    expect(records).toHaveLength(expected.records)
    expect(records[0]?.offset).toBe(expected.firstOffset)
    expect(records.at(-1)?.offset).toBe(expected.lastOffset)
    expect(batches[0]?.batch.header.baseOffset).toBe(expected.firstOffset)
    expect(lastOffsetOf(batches.at(-1)!.batch.header)).toBe(expected.lastOffset)
    // Offsets are contiguous, inside each batch and from one batch to the next.
    expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => expected.firstOffset + i))
    let next = expected.firstOffset
    for (const { batch, records: inBatch } of batches) {
      expect(batch.header.baseOffset).toBe(next)
      expect(inBatch).toHaveLength(batch.header.recordsCount)
      expect(lastOffsetOf(batch.header)).toBe(batch.header.baseOffset + batch.header.recordsCount - 1)
      expect(batch.header.magic).toBe(2)
      expect(codecOf(batch.header)).toBe('none')
      next = lastOffsetOf(batch.header) + 1
    }
  })

  it('test-topic-75B.log holds one record: null key, value "message", no timestamp, no producer', () => {
    const { batches } = read('test-topic-75B.log')
    const [only] = batches
    expect(only?.batch.header).toMatchObject({ producerId: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: -1, maxTimestamp: -1 })
    expect(only?.records).toEqual([{ offset: 0, timestamp: -1, key: null, value: Buffer.from('message'), headers: [] }])
  })

  it('test-topic-83B.log holds k1 → v1 at timestamp 10 and k2 → v2 at timestamp 11', () => {
    const { batches } = read('test-topic-83B.log')
    const [only] = batches
    expect(only?.batch.header).toMatchObject({ crc: 2895120616, baseTimestamp: 10, maxTimestamp: 11, producerId: -1 })
    expect(only?.records).toEqual([
      { offset: 0, timestamp: 10, key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [] },
      { offset: 1, timestamp: 11, key: Buffer.from('k2'), value: Buffer.from('v2'), headers: [] },
    ])
  })

  it('the KRaft control batches hold one control record each (version 0, LEADER_CHANGE)', () => {
    for (const name of ['cluster-metadata-2076B.log', 'cluster-metadata-2239B.log', 'cluster-metadata-5505B.log']) {
      for (const { batch, records } of read(name).batches.filter((b) => isControlBatch(b.batch.header))) {
        expect(records, name).toHaveLength(1)
        // A control record's key is (version int16, type int16); type 2 is LEADER_CHANGE.
        expect(records[0]?.key?.toString('hex'), `${name} at ${batch.position}`).toBe('00000002')
      }
    }
  })
})
