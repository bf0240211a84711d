import { AssertionError } from 'node:assert'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ClosedError, CorruptIndexError } from '../../src/errors.js'
import { TIME_INDEX_ENTRY_BYTES, TimeIndex, type IndexOpenOptions } from '../../src/index/index.js'

let dir: string
let file: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-time-index-'))
  file = path.join(dir, '00000000000000000100.timeindex')
})
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const BASE = 100
const T = 1_700_000_000_000
const writable = (maxIndexBytes = 1200): IndexOpenOptions => ({ baseOffset: BASE, maxIndexBytes, writable: true })
const readOnly = (maxIndexBytes = 1200): IndexOpenOptions => ({ baseOffset: BASE, maxIndexBytes, writable: false })

/** The bytes of entries (timestamp, relativeOffset), as the format table says. */
function entryBytes(entries: Array<[number, number]>): Buffer {
  const buf = Buffer.alloc(entries.length * TIME_INDEX_ENTRY_BYTES)
  entries.forEach(([timestamp, relativeOffset], i) => {
    buf.writeBigInt64BE(BigInt(timestamp), i * 12)
    buf.writeUInt32BE(relativeOffset, i * 12 + 8)
  })
  return buf
}

function allEntries(index: TimeIndex): Array<{ timestamp: number; offset: number }> {
  return Array.from({ length: index.entries }, (_, i) => index.entryAt(i))
}

/** An index with entries T → 110, T + 10 → 120, T + 20 → 130. */
function threeEntries(options = writable()): TimeIndex {
  const index = TimeIndex.open(file, options)
  index.maybeAppend(T, 110)
  index.maybeAppend(T + 10, 120)
  index.maybeAppend(T + 20, 130)
  return index
}

describe('TimeIndex', () => {
  it('appends only timestamps greater than the last one', () => {
    const index = TimeIndex.open(file, writable())
    expect(index.maybeAppend(T, 110)).toBe(true)
    expect(index.maybeAppend(T, 115)).toBe(false)
    expect(index.maybeAppend(T - 5, 120)).toBe(false)
    expect(index.maybeAppend(T + 1, 120)).toBe(true)
    expect(index.maybeAppend(T + 2, 120)).toBe(true)
    expect(allEntries(index)).toEqual([
      { timestamp: T, offset: 110 },
      { timestamp: T + 1, offset: 120 },
      { timestamp: T + 2, offset: 120 },
    ])
    index.close()
  })

  it('takes a first timestamp of 0 but not a negative one (Kafka’s NO_TIMESTAMP is -1)', () => {
    const index = TimeIndex.open(file, writable())
    expect(index.maybeAppend(-1, 100)).toBe(false)
    expect(index.maybeAppend(0, 100)).toBe(true)
    expect(index.lastEntry()).toEqual({ timestamp: 0, offset: 100 })
    index.close()
  })

  it('refuses an offset below the last entry’s', () => {
    const index = threeEntries()
    expect(() => index.maybeAppend(T + 30, 129)).toThrow(AssertionError)
    expect(() => index.maybeAppend(T + 30, 99)).toThrow(RangeError)
    expect(() => index.maybeAppend(T + 0.5, 140)).toThrow(RangeError)
    expect(index.entries).toBe(3)
    index.close()
  })

  it('finds the largest entry at or below the target timestamp', () => {
    const index = threeEntries()
    expect(index.lookup(T + 10)).toEqual({ timestamp: T + 10, offset: 120 })
    expect(index.lookup(T + 15)).toEqual({ timestamp: T + 10, offset: 120 })
    expect(index.lookup(T - 1)).toBeUndefined()
    expect(index.lookup(T + 1000)).toEqual({ timestamp: T + 20, offset: 130 })
    index.close()
    const empty = TimeIndex.open(path.join(dir, 'missing.timeindex'), readOnly())
    expect(empty.lookup(T)).toBeUndefined()
    expect(empty.lastEntry()).toBeUndefined()
    empty.close()
  })

  it('trims the file to its entries on close and reopens with the same entries', () => {
    threeEntries().close()
    expect(fs.statSync(file).size).toBe(3 * TIME_INDEX_ENTRY_BYTES)
    for (const options of [readOnly(), writable()]) {
      const index = TimeIndex.open(file, options)
      expect(allEntries(index)).toEqual([
        { timestamp: T, offset: 110 },
        { timestamp: T + 10, offset: 120 },
        { timestamp: T + 20, offset: 130 },
      ])
      expect(index.sanityCheck(131)).toBeUndefined()
      index.close()
    }
  })

  it('counts only the written entries of a zero-filled preallocated file', () => {
    fs.writeFileSync(file, Buffer.concat([entryBytes([[T, 10], [T + 10, 20]]), Buffer.alloc(1200 - 24)]))
    for (const options of [writable(), readOnly()]) {
      const index = TimeIndex.open(file, options)
      expect(allEntries(index)).toEqual([
        { timestamp: T, offset: 110 },
        { timestamp: T + 10, offset: 120 },
      ])
      index.close()
    }
  })

  it('counts a first entry of (0, 0) only when an increasing entry follows it or the file is trimmed to it', () => {
    fs.writeFileSync(file, Buffer.concat([entryBytes([[0, 0], [5, 0]]), Buffer.alloc(120)]))
    let index = TimeIndex.open(file, writable())
    expect(allEntries(index)).toEqual([
      { timestamp: 0, offset: 100 },
      { timestamp: 5, offset: 100 },
    ])
    index.close()

    fs.writeFileSync(file, entryBytes([[0, 0]]))
    index = TimeIndex.open(file, readOnly())
    expect(index.entries).toBe(1)
    index.close()

    fs.writeFileSync(file, Buffer.alloc(1200))
    index = TimeIndex.open(file, writable())
    expect(index.entries).toBe(0)
    index.close()
  })

  it('keeps the last slot for the entry written when the segment is sealed', () => {
    const index = TimeIndex.open(file, writable(3 * TIME_INDEX_ENTRY_BYTES))
    index.maybeAppend(T, 110)
    expect(index.isFull).toBe(false)
    index.maybeAppend(T + 10, 120)
    expect(index.isFull).toBe(true)
    expect(() => index.maybeAppend(T + 20, 130)).toThrow(AssertionError)
    expect(index.maybeAppend(T + 20, 130, true)).toBe(true)
    expect(() => index.maybeAppend(T + 30, 140, true)).toThrow(AssertionError)
    expect(index.entries).toBe(3)
    index.close()
  })

  it('truncateTo removes the entries whose offset is at or after the offset', () => {
    const index = TimeIndex.open(file, writable())
    index.maybeAppend(T, 110)
    index.maybeAppend(T + 1, 120)
    index.maybeAppend(T + 2, 120)
    index.maybeAppend(T + 3, 130)
    index.truncateTo(121)
    expect(index.entries).toBe(3)
    index.truncateTo(120)
    expect(allEntries(index)).toEqual([{ timestamp: T, offset: 110 }])
    const afterCrash = TimeIndex.open(file, readOnly())
    expect(afterCrash.entries).toBe(1)
    afterCrash.close()
    expect(index.maybeAppend(T + 1, 115)).toBe(true)
    index.close()
  })

  it('reset removes every entry, so that the index can be rebuilt', () => {
    const index = threeEntries()
    index.reset()
    expect(index.entries).toBe(0)
    expect(index.maybeAppend(0, 100)).toBe(true)
    index.close()
    expect(allEntries(TimeIndex.open(file, readOnly()))).toEqual([{ timestamp: 0, offset: 100 }])
  })

  it('refuses to change a read-only index', () => {
    threeEntries().close()
    const index = TimeIndex.open(file, readOnly())
    expect(() => index.maybeAppend(T + 30, 140)).toThrow(AssertionError)
    expect(() => index.truncateTo(120)).toThrow(AssertionError)
    expect(() => index.reset()).toThrow(AssertionError)
    index.close()
  })

  it('throws ClosedError once closed, and close is idempotent', async () => {
    const index = threeEntries()
    await index[Symbol.asyncDispose]()
    index.close()
    expect(() => index.lookup(T)).toThrow(ClosedError)
    expect(() => index.maybeAppend(T + 30, 140)).toThrow(ClosedError)
  })

  describe('sanityCheck', () => {
    it('reports timestamps that do not strictly increase in a sealed index', () => {
      fs.writeFileSync(file, entryBytes([[T, 10], [T, 20]]))
      const index = TimeIndex.open(file, readOnly())
      expect(index.sanityCheck()).toBe(
        `Index ${file} entry 1 (timestamp ${T}, relativeOffset 20) does not follow entry 0 (timestamp ${T}, relativeOffset 10): entries must strictly increase`,
      )
      index.close()
    })

    it('reports offsets that decrease', () => {
      fs.writeFileSync(file, entryBytes([[T, 10], [T + 1, 9]]))
      const index = TimeIndex.open(file, readOnly())
      expect(index.sanityCheck()).toMatch(/entry 1 \(timestamp \d+, relativeOffset 9\) does not follow entry 0/)
      index.close()
    })

    it('reports a negative timestamp', () => {
      fs.writeFileSync(file, entryBytes([[-5, 10], [T, 20]]))
      const index = TimeIndex.open(file, readOnly())
      expect(index.sanityCheck()).toBe(`Index ${file} entry 0 has timestamp -5: timestamps are never negative`)
      index.close()
    })

    it('reports an entry at or past the segment’s next offset', () => {
      const index = threeEntries()
      expect(index.sanityCheck(131)).toBeUndefined()
      expect(index.sanityCheck(125)).toBe(`Index ${file} entry 2 (timestamp ${T + 20}) has offset 130, at or past the segment's next offset 125`)
      index.close()
    })

    it('reports a sealed file that is not a whole number of entries', () => {
      fs.writeFileSync(file, Buffer.concat([entryBytes([[T, 10]]), Buffer.alloc(5)]))
      const index = TimeIndex.open(file, readOnly())
      expect(index.sanityCheck()).toBe(`Index ${file} is 17 bytes long, not a whole number of 12-byte entries`)
      index.close()
    })

    it('assertSane throws CorruptIndexError with the file and byte position', () => {
      fs.writeFileSync(file, entryBytes([[T, 10], [T + 1, 20], [T + 1, 30]]))
      const index = TimeIndex.open(file, readOnly())
      expect(() => index.assertSane()).toThrow(CorruptIndexError)
      expect(() => index.assertSane()).toThrow(expect.objectContaining({ file, position: 24 }))
      index.close()
    })
  })

  it('looks up as a linear scan does, and ignores what a linear model ignores', () => {
    const appends = fc.array(fc.tuple(fc.integer({ min: -3, max: 50 }), fc.integer({ min: 0, max: 3 })), { maxLength: 80 })
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), appends, fc.array(fc.integer({ min: -10, max: 2000 }), { maxLength: 20 }), (start, steps, targets) => {
        fs.rmSync(file, { force: true })
        const model: Array<{ timestamp: number; offset: number }> = []
        const index = TimeIndex.open(file, writable(100 * TIME_INDEX_ENTRY_BYTES))
        let offset = BASE
        let timestamp = start
        for (const [timestampStep, offsetStep] of steps) {
          timestamp += timestampStep
          offset += offsetStep
          const last = model.at(-1)
          const appends = timestamp > (last?.timestamp ?? -1)
          expect(index.maybeAppend(timestamp, offset)).toBe(appends)
          if (appends) model.push({ timestamp, offset })
        }
        expect(allEntries(index)).toEqual(model)
        for (const delta of targets) {
          const target = start + delta
          expect(index.lookup(target)).toEqual(model.findLast((e) => e.timestamp <= target))
        }
        index.close()
        const reopened = TimeIndex.open(file, readOnly())
        expect(allEntries(reopened)).toEqual(model)
        expect(reopened.sanityCheck(offset + 1)).toBeUndefined()
        reopened.close()
      }),
    )
  })
})
