import { AssertionError } from 'node:assert'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ClosedError, CorruptIndexError } from '../../src/errors.js'
import * as io from '../../src/file-io.js'
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex, type IndexOpenOptions } from '../../src/index/index.js'

let dir: string
let file: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-offset-index-'))
  file = path.join(dir, '00000000000000000100.index')
})
afterEach(() => {
  io.setFaultInjector(undefined)
  fs.rmSync(dir, { recursive: true, force: true })
})

const BASE = 100
const writable = (maxIndexBytes = 1024): IndexOpenOptions => ({ baseOffset: BASE, maxIndexBytes, writable: true })
const readOnly = (maxIndexBytes = 1024): IndexOpenOptions => ({ baseOffset: BASE, maxIndexBytes, writable: false })

/** The bytes of entries (relativeOffset, position), as the format table says. */
function entryBytes(entries: Array<[number, number]>): Buffer {
  const buf = Buffer.alloc(entries.length * OFFSET_INDEX_ENTRY_BYTES)
  entries.forEach(([relativeOffset, position], i) => {
    buf.writeUInt32BE(relativeOffset, i * 8)
    buf.writeUInt32BE(position, i * 8 + 4)
  })
  return buf
}

function allEntries(index: OffsetIndex): Array<{ offset: number; position: number }> {
  return Array.from({ length: index.entries }, (_, i) => index.entryAt(i))
}

/** An index with entries offset 110 → 1000, 120 → 2000, 130 → 3000. */
function threeEntries(options = writable()): OffsetIndex {
  const index = OffsetIndex.open(file, options)
  index.append(110, 1000)
  index.append(120, 2000)
  index.append(130, 3000)
  return index
}

describe('OffsetIndex', () => {
  it('finds the largest entry at or below the target: exact, between entries, before the first, after the last', () => {
    const index = threeEntries()
    expect(index.lookup(120)).toEqual({ offset: 120, position: 2000 })
    expect(index.lookup(125)).toEqual({ offset: 120, position: 2000 })
    expect(index.lookup(109)).toEqual({ offset: 100, position: 0 })
    expect(index.lookup(50)).toEqual({ offset: 100, position: 0 })
    expect(index.lookup(10_000_000_000)).toEqual({ offset: 130, position: 3000 })
    expect(index.lastEntry()).toEqual({ offset: 130, position: 3000 })
    index.close()
  })

  it('answers the base offset at position 0 when it has no entries', () => {
    const index = OffsetIndex.open(file, writable())
    expect(index.entries).toBe(0)
    expect(index.lastEntry()).toBeUndefined()
    expect(index.lookup(1000)).toEqual({ offset: BASE, position: 0 })
    index.close()
  })

  it('preallocates a new file to maxIndexBytes rounded down to whole entries, with mode 0600', () => {
    const index = OffsetIndex.open(file, writable(1029))
    expect(fs.statSync(file).size).toBe(1024)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(index.maxEntries).toBe(128)
    index.close()
  })

  it('trims the file to its entries on close and reopens with the same entries', () => {
    const index = threeEntries()
    index.close()
    expect(fs.statSync(file).size).toBe(3 * OFFSET_INDEX_ENTRY_BYTES)
    for (const options of [readOnly(), writable()]) {
      const reopened = OffsetIndex.open(file, options)
      expect(allEntries(reopened)).toEqual([
        { offset: 110, position: 1000 },
        { offset: 120, position: 2000 },
        { offset: 130, position: 3000 },
      ])
      expect(reopened.sanityCheck(4000)).toBeUndefined()
      reopened.close()
    }
  })

  it('takes more entries when a trimmed index is reopened writable', () => {
    threeEntries().close()
    const index = OffsetIndex.open(file, writable())
    expect(fs.statSync(file).size).toBe(1024)
    index.append(140, 4000)
    index.close()
    expect(allEntries(OffsetIndex.open(file, readOnly()))).toHaveLength(4)
  })

  it('counts only the written entries of a zero-filled preallocated file', () => {
    // A crash leaves the preallocated file untrimmed: entries, then zeros to maxIndexBytes.
    fs.writeFileSync(file, Buffer.concat([entryBytes([[10, 1000], [20, 2000]]), Buffer.alloc(1024 - 16)]))
    for (const options of [writable(), readOnly()]) {
      const index = OffsetIndex.open(file, options)
      expect(allEntries(index)).toEqual([
        { offset: 110, position: 1000 },
        { offset: 120, position: 2000 },
      ])
      index.close()
    }
  })

  it('counts nothing in a zero-filled preallocated file, even one of a single entry', () => {
    for (const bytes of [1024, 8]) {
      fs.writeFileSync(file, Buffer.alloc(bytes))
      const index = OffsetIndex.open(file, writable(bytes))
      expect(index.entries).toBe(0)
      index.close()
    }
  })

  it('counts a first entry of (0, 0) when an increasing entry follows it or the file is trimmed to it', () => {
    fs.writeFileSync(file, Buffer.concat([entryBytes([[0, 0], [5, 500]]), Buffer.alloc(64)]))
    let index = OffsetIndex.open(file, writable())
    expect(allEntries(index)).toEqual([
      { offset: 100, position: 0 },
      { offset: 105, position: 500 },
    ])
    index.close()

    fs.writeFileSync(file, entryBytes([[0, 0]]))
    index = OffsetIndex.open(file, readOnly())
    expect(allEntries(index)).toEqual([{ offset: 100, position: 0 }])
    expect(index.sanityCheck(100)).toBeUndefined()
    index.close()
  })

  it('stops counting at the first entry that does not increase', () => {
    fs.writeFileSync(file, entryBytes([[10, 1000], [20, 2000], [20, 3000], [30, 4000]]))
    const index = OffsetIndex.open(file, readOnly())
    expect(index.entries).toBe(2)
    index.close()
  })

  it('reports full and refuses to append when every preallocated entry is used', () => {
    const index = OffsetIndex.open(file, writable(3 * OFFSET_INDEX_ENTRY_BYTES))
    index.append(101, 10)
    index.append(102, 20)
    expect(index.isFull).toBe(false)
    index.append(103, 30)
    expect(index.isFull).toBe(true)
    expect(() => index.append(104, 40)).toThrow(AssertionError)
    expect(index.entries).toBe(3)
    index.close()
  })

  it('keeps every entry when reopened with a smaller maxIndexBytes', () => {
    threeEntries().close()
    const index = OffsetIndex.open(file, writable(8))
    expect(index.entries).toBe(3)
    expect(index.isFull).toBe(true)
    index.close()
  })

  it('refuses offsets and positions that do not increase', () => {
    const index = threeEntries()
    expect(() => index.append(130, 4000)).toThrow(AssertionError)
    expect(() => index.append(140, 3000)).toThrow(AssertionError)
    expect(index.entries).toBe(3)
    index.close()
  })

  it('refuses offsets outside [baseOffset, baseOffset + 2^32 - 1] and positions outside u32', () => {
    const index = OffsetIndex.open(file, writable())
    expect(() => index.append(99, 10)).toThrow(RangeError)
    expect(() => index.append(BASE + 2 ** 32, 10)).toThrow(RangeError)
    expect(() => index.append(101, 2 ** 32)).toThrow(RangeError)
    expect(() => index.append(101.5, 10)).toThrow(RangeError)
    index.append(BASE + 2 ** 32 - 1, 2 ** 32 - 1)
    expect(index.lastEntry()).toEqual({ offset: BASE + 2 ** 32 - 1, position: 2 ** 32 - 1 })
    index.close()
  })

  it('refuses to append to a read-only or trimmed index', () => {
    threeEntries().close()
    const sealed = OffsetIndex.open(file, readOnly())
    expect(() => sealed.append(140, 4000)).toThrow(AssertionError)
    expect(() => sealed.truncateTo(120)).toThrow(AssertionError)
    expect(() => sealed.reset()).toThrow(AssertionError)
    sealed.close()

    const index = OffsetIndex.open(file, writable())
    index.trim()
    expect(index.writable).toBe(false)
    expect(index.isFull).toBe(false)
    expect(fs.statSync(file).size).toBe(24)
    expect(index.lookup(125)).toEqual({ offset: 120, position: 2000 })
    expect(() => index.append(140, 4000)).toThrow(AssertionError)
    index.flush()
    index.close()
  })

  it('truncateTo removes the entries at or after the offset, and a crash does not bring them back', () => {
    const index = threeEntries()
    index.truncateTo(121)
    expect(allEntries(index)).toEqual([
      { offset: 110, position: 1000 },
      { offset: 120, position: 2000 },
    ])
    index.truncateTo(120)
    expect(allEntries(index)).toEqual([{ offset: 110, position: 1000 }])
    // A second opening sees the file as a crash would leave it: still preallocated.
    const afterCrash = OffsetIndex.open(file, readOnly())
    expect(afterCrash.entries).toBe(1)
    afterCrash.close()
    index.append(115, 1500)
    expect(index.lookup(200)).toEqual({ offset: 115, position: 1500 })
    index.truncateTo(0)
    expect(index.entries).toBe(0)
    index.close()
  })

  it('reset removes every entry, so that the index can be rebuilt', () => {
    const index = threeEntries()
    index.reset()
    expect(index.entries).toBe(0)
    expect(index.sanityCheck(0)).toBeUndefined()
    index.append(101, 10)
    index.close()
    expect(allEntries(OffsetIndex.open(file, readOnly()))).toEqual([{ offset: 101, position: 10 }])
  })

  it('does not create a missing file when read-only, and reads a missing or empty file as empty', () => {
    let index = OffsetIndex.open(file, readOnly())
    expect(index.entries).toBe(0)
    expect(index.lookup(500)).toEqual({ offset: BASE, position: 0 })
    index.close()
    expect(fs.existsSync(file)).toBe(false)

    fs.writeFileSync(file, Buffer.alloc(0))
    index = OffsetIndex.open(file, readOnly())
    expect(index.entries).toBe(0)
    expect(index.sanityCheck(0)).toBeUndefined()
    index.close()
  })

  it('trims an index with no entries to an empty file', () => {
    const index = OffsetIndex.open(file, writable())
    index.close()
    expect(fs.statSync(file).size).toBe(0)
  })

  it('throws ClosedError once closed, and close is idempotent', async () => {
    const index = threeEntries()
    await index[Symbol.asyncDispose]()
    index.close()
    expect(() => index.lookup(110)).toThrow(ClosedError)
    expect(() => index.append(140, 4000)).toThrow(ClosedError)
    expect(() => index.sanityCheck(0)).toThrow(ClosedError)
  })

  it('releases the file when trimming on close fails, and stays closed', () => {
    const index = threeEntries()
    io.setFaultInjector((op) => (op === 'ftruncate' ? io.errnoError('EIO', op, file) : undefined))
    expect(() => index.close()).toThrow(/EIO/)
    io.setFaultInjector(undefined)
    index.close()
    expect(() => index.lookup(110)).toThrow(ClosedError)
    // Untrimmed, as after a crash: the entries are still counted.
    const reopened = OffsetIndex.open(file, readOnly())
    expect(reopened.entries).toBe(3)
    expect(reopened.sanityCheck(4000)).toMatch(/untrimmed/)
    reopened.close()
  })

  it('fails to open writable when the file cannot be preallocated', () => {
    io.setFaultInjector((op) => (op === 'ftruncate' ? io.errnoError('ENOSPC', op, file) : undefined))
    expect(() => OffsetIndex.open(file, writable())).toThrow(/ENOSPC/)
  })

  it('refuses maxIndexBytes below one entry for a writable index', () => {
    expect(() => OffsetIndex.open(file, writable(7))).toThrow(RangeError)
    expect(() => OffsetIndex.open(file, { ...writable(), baseOffset: -1 })).toThrow(RangeError)
    expect(fs.existsSync(file)).toBe(false)
  })

  describe('sanityCheck', () => {
    it('passes a sane index, writable or sealed', () => {
      const index = threeEntries()
      expect(index.sanityCheck(3001)).toBeUndefined()
      index.close()
      const sealed = OffsetIndex.open(file, readOnly())
      expect(sealed.sanityCheck(3001)).toBeUndefined()
      sealed.close()
    })

    it('reports a sealed index whose entries do not strictly increase', () => {
      fs.writeFileSync(file, entryBytes([[10, 1000], [20, 2000], [20, 3000]]))
      const index = OffsetIndex.open(file, readOnly())
      expect(index.sanityCheck(10_000)).toBe(
        `Index ${file} entry 2 (relativeOffset 20, position 3000) does not follow entry 1 (relativeOffset 20, position 2000): entries must strictly increase`,
      )
      index.close()
    })

    it('reports a position that decreases', () => {
      fs.writeFileSync(file, entryBytes([[10, 1000], [20, 900]]))
      const index = OffsetIndex.open(file, readOnly())
      expect(index.sanityCheck(10_000)).toMatch(/entry 1 \(relativeOffset 20, position 900\) does not follow entry 0/)
      index.close()
    })

    it('reports an untrimmed sealed index', () => {
      fs.writeFileSync(file, Buffer.concat([entryBytes([[10, 1000]]), Buffer.alloc(8)]))
      const index = OffsetIndex.open(file, readOnly())
      expect(index.sanityCheck(10_000)).toBe(
        `Index ${file} entry 1 is all zeros after entry 0 (relativeOffset 10, position 1000): the file is untrimmed (preallocated) or damaged`,
      )
      index.close()
    })

    it('reports non-zero bytes after the entries of a writable index', () => {
      fs.writeFileSync(file, Buffer.concat([entryBytes([[10, 1000], [5, 2000]]), Buffer.alloc(64)]))
      const index = OffsetIndex.open(file, writable())
      expect(index.entries).toBe(1)
      expect(index.sanityCheck(10_000)).toMatch(/entry 1 \(relativeOffset 5, position 2000\) does not follow entry 0/)
      index.reset()
      expect(index.sanityCheck(10_000)).toBeUndefined()
      index.close()
    })

    it('reports the first position at or past the end of the log', () => {
      const index = threeEntries()
      expect(index.sanityCheck(2000)).toBe(`Index ${file} entry 1 (offset 120) has position 2000, past the end of the 2000-byte log`)
      expect(index.sanityCheck(0)).toMatch(/entry 0 \(offset 110\) has position 1000/)
      index.close()
    })

    it('reports a sealed file that is not a whole number of entries', () => {
      fs.writeFileSync(file, Buffer.concat([entryBytes([[10, 1000]]), Buffer.from([1, 2, 3])]))
      const index = OffsetIndex.open(file, readOnly())
      expect(index.entries).toBe(1)
      expect(index.sanityCheck(10_000)).toBe(`Index ${file} is 11 bytes long, not a whole number of 8-byte entries`)
      index.close()
    })

    it('reports relative offsets that overflow a safe integer', () => {
      fs.writeFileSync(file, entryBytes([[10, 1000]]))
      const index = OffsetIndex.open(file, { ...readOnly(), baseOffset: Number.MAX_SAFE_INTEGER - 5 })
      expect(index.sanityCheck(10_000)).toMatch(/entry 0 has offset .*, beyond 2\^53 - 1/)
      index.close()
    })

    it('assertSane throws CorruptIndexError with the file and byte position', () => {
      const index = threeEntries()
      let error: unknown
      try {
        index.assertSane(2500)
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(CorruptIndexError)
      expect(error).toMatchObject({ code: 'ERR_CORRUPT_INDEX', file, position: 16 })
      index.close()
    })
  })

  it('looks up as a linear scan does, before and after a reopen', () => {
    // Entries: strictly increasing (relativeOffset, position) pairs built from positive steps.
    const steps = fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 100_000 })), { maxLength: 60 })
    fc.assert(
      fc.property(steps, fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: 1, maxLength: 20 }), (stepList, targets) => {
        fs.rmSync(file, { force: true })
        const model: Array<{ offset: number; position: number }> = []
        let offset = BASE - 1
        let position = -1
        const index = OffsetIndex.open(file, writable(64 * OFFSET_INDEX_ENTRY_BYTES))
        for (const [offsetStep, positionStep] of stepList) {
          offset += offsetStep
          position += positionStep
          index.append(offset, position)
          model.push({ offset, position })
        }
        const expected = (target: number): { offset: number; position: number } =>
          model.findLast((e) => e.offset <= target) ?? { offset: BASE, position: 0 }
        for (const target of targets) expect(index.lookup(target)).toEqual(expected(target))
        index.close()
        const reopened = OffsetIndex.open(file, readOnly())
        expect(reopened.entries).toBe(model.length)
        for (const target of targets) expect(reopened.lookup(target)).toEqual(expected(target))
        reopened.close()
      }),
    )
  })
})
