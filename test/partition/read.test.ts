/**
 * Reads by offset and by timestamp: bounds, the durable offset, batch boundaries, maxBytes, and
 * keys and values handed out as views of one read buffer.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ClosedError, OffsetOutOfRangeError, Partition } from '../../src/seglog.js'
import { appendNumbered, caught, expectNumbered, numbered, readAll, removeTempDirs, tempDir } from './helpers.js'

afterEach(removeTempDirs)

describe('Partition.read', () => {
  it('returns no records at the durable offset, and refuses an offset past the log end offset with ERR_OFFSET_OUT_OF_RANGE', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { segmentBytes: 1024 })
    try {
      expect(p.read({ from: 0 })).toEqual({ records: [], nextOffset: 0 })
      await appendNumbered(p, 20, 4)
      expect(p.durableOffset).toBe(80)
      expect(p.read({ from: 80 })).toEqual({ records: [], nextOffset: 80 })
      const err = await caught(() => p.read({ from: 81 }))
      expect(err).toBeInstanceOf(OffsetOutOfRangeError)
      expect(err.code).toBe('ERR_OFFSET_OUT_OF_RANGE')
      expect(() => p.read({ from: -1 })).toThrow(RangeError)
      expect(() => p.read({ from: 1.5 })).toThrow(RangeError)
      expect(() => p.read({ from: Number.NaN })).toThrow(RangeError)
    } finally {
      await p.close()
    }
    expect((await caught(() => p.read({ from: 0 }))).code).toBe('ERR_CLOSED')
    expect(await caught(() => p.append(numbered(0, 1)))).toBeInstanceOf(ClosedError)
  })

  it('starts exactly at the offset asked for, inside a batch and at every offset of every segment', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { segmentBytes: 700, indexIntervalBytes: 100 })
    try {
      await appendNumbered(p, 30, 5)
      expect(p.segmentCount).toBeGreaterThan(3)
      for (let o = 0; o < 150; o++) {
        const { records, nextOffset } = p.read({ from: o, maxBytes: 1 })
        expect(records[0]?.offset).toBe(o)
        expect(records[0]?.value?.toString()).toBe(`v-${o}`)
        // maxBytes 1 still gives the whole batch holding the offset, from the offset on.
        expect(nextOffset).toBe((Math.floor(o / 5) + 1) * 5)
        expectNumbered(records, o, nextOffset)
      }
    } finally {
      await p.close()
    }
  })

  it('reads about maxBytes of whole batches and says where to go on', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    try {
      await appendNumbered(p, 50, 4)
      const { records, nextOffset } = p.read({ from: 0, maxBytes: 500 })
      expect(records.length % 4).toBe(0)
      expect(records.length).toBeGreaterThan(4)
      expect(records.length).toBeLessThan(200)
      expect(nextOffset).toBe(records.length)
      expectNumbered(p.read({ from: nextOffset, maxBytes: 1_000_000 }).records, nextOffset, 200)
    } finally {
      await p.close()
    }
  })

  it('hands out keys and values as views into one read buffer, not copies', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    try {
      await p.append([
        { key: 'a', value: 'first' },
        { key: 'b', value: 'second', headers: [['h', 'x']] },
      ])
      await p.append([{ key: 'c', value: 'third' }])
      const { records } = p.read({ from: 0 })
      const [r1, r2, r3] = records
      expect(r1!.value!.buffer).toBe(r2!.value!.buffer)
      expect(r1!.key!.buffer).toBe(r1!.value!.buffer)
      expect(r2!.headers[0]![1]!.buffer).toBe(r1!.value!.buffer)
      // One read, one buffer, across batches too.
      expect(r3!.value!.buffer).toBe(r1!.value!.buffer)
      expect([r1, r2, r3].map((r) => r!.value!.toString())).toEqual(['first', 'second', 'third'])
      // Views, not copies: the values sit in the buffer where the batch put them, one after the other.
      expect(r2!.value!.byteOffset).toBeGreaterThan(r1!.value!.byteOffset)
      expect(r2!.value!.byteOffset - r1!.value!.byteOffset).toBeLessThan(20)
    } finally {
      await p.close()
    }
  })

  it('gives each read its own buffer, so views from an earlier read stay valid', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    try {
      // Values large enough that the read buffer is not a slice of Node's shared small-buffer pool.
      await p.append([{ value: Buffer.alloc(3000, 1) }, { value: Buffer.alloc(3000, 2) }])
      const [a1, a2] = p.read({ from: 0 }).records
      expect(a1!.value!.buffer).toBe(a2!.value!.buffer)
      expect(a1!.value!.buffer.byteLength).toBeGreaterThanOrEqual(6000)
      const [b1] = p.read({ from: 0 }).records
      expect(b1!.value!.buffer).not.toBe(a1!.value!.buffer)
      await p.append([{ value: Buffer.alloc(3000, 3) }])
      expect(a1!.value!.every((x) => x === 1)).toBe(true)
      expect(a2!.value!.every((x) => x === 2)).toBe(true)
    } finally {
      await p.close()
    }
  })

  it('reads null keys, null values (tombstones), empty values and null header values back as they were', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    try {
      await p.append([
        { key: null, value: null },
        { value: '' },
        { key: '', value: Buffer.alloc(0), headers: [['k', null], ['k', ''], ['k', 'v']] },
      ])
      const rs = p.read({ from: 0 }).records
      expect(rs.map((r) => [r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual([
        [null, null],
        [null, ''],
        ['', ''],
      ])
      expect(rs[2]!.headers.map(([k, v]) => [k, v?.toString() ?? null])).toEqual([
        ['k', null],
        ['k', ''],
        ['k', 'v'],
      ])
    } finally {
      await p.close()
    }
  })
})

describe('Partition.offsetForTimestamp', () => {
  it('finds the first offset whose timestamp is at least the one asked for, across segments', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { segmentBytes: 700, indexIntervalBytes: 100 })
    try {
      const T = 1_700_000_000_000
      for (let b = 0; b < 40; b++) await p.append(Array.from({ length: 3 }, (_, k) => ({ value: `v-${b * 3 + k}`, timestamp: T + (b * 3 + k) * 10 })))
      expect(p.segmentCount).toBeGreaterThan(3)
      for (let o = 0; o < 120; o++) {
        expect(p.offsetForTimestamp(T + o * 10)).toBe(o)
        expect(p.offsetForTimestamp(T + o * 10 - 5)).toBe(o)
      }
      expect(p.offsetForTimestamp(0)).toBe(0)
      // Past every timestamp: the durable offset.
      expect(p.offsetForTimestamp(T + 10_000)).toBe(120)
    } finally {
      await p.close()
    }
  })

  it('still finds a timestamp of a batch written before a clean reopen when later batches carry smaller ones', async () => {
    const dir = tempDir()
    const options = { indexIntervalBytes: 0 }
    const first = await Partition.open(dir, options)
    const T = 1_800_000_000_000
    await first.append([{ value: 'newest', timestamp: T }])
    await first.close()
    const p = await Partition.open(dir, options)
    try {
      await p.append([{ value: 'b', timestamp: T - 300 }])
      await p.append([{ value: 'c', timestamp: T - 200 }])
      await p.append([{ value: 'd', timestamp: T - 100 }])
      expect(p.offsetForTimestamp(T)).toBe(0)
      expect(p.offsetForTimestamp(T - 150)).toBe(0)
      await p.close()
      const again = await Partition.open(dir, options)
      expect(again.offsetForTimestamp(T)).toBe(0)
      await again.close()
    } finally {
      await p.close()
    }
  })
})

describe('Partition.records', () => {
  it('iterates from the log start offset by default and ends at the durable offset', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { segmentBytes: 512 })
    try {
      await appendNumbered(p, 30, 3)
      expectNumbered(await readAll(p), 0, 90)
      const some: number[] = []
      for await (const r of p.records({ from: 40, maxBytes: 64 })) some.push(r.offset)
      expect(some).toEqual(Array.from({ length: 50 }, (_, i) => 40 + i))
    } finally {
      await p.close()
    }
  })
})
