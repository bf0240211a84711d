import { describe, expect, it } from 'vitest'
import { countEntries, firstAtLeast, largestAtMost, type EntryLayout } from '../../src/index/entry-layout.js'

/** A 4-byte entry: one u32 that must strictly increase. */
const layout: EntryLayout = {
  entryBytes: 4,
  follows: (buf, prevPos, pos) => buf.readUInt32BE(pos) > buf.readUInt32BE(prevPos),
}

function file(values: number[], extraBytes = 0): Buffer {
  const buf = Buffer.alloc(values.length * 4 + extraBytes)
  values.forEach((v, i) => buf.writeUInt32BE(v, i * 4))
  return buf
}

describe('countEntries', () => {
  // The counting rule as a decision table: file bytes, preallocation size, entries counted.
  const table: Array<{ case: string; buf: Buffer; preallocatedBytes: number; entries: number }> = [
    { case: 'empty file', buf: file([]), preallocatedBytes: 40, entries: 0 },
    { case: 'less than one entry', buf: file([], 3), preallocatedBytes: 40, entries: 0 },
    { case: 'non-zero first entry, zero tail', buf: file([7, 0, 0]), preallocatedBytes: 12, entries: 1 },
    { case: 'entries then zero tail', buf: file([7, 8, 9, 0, 0, 0]), preallocatedBytes: 24, entries: 3 },
    { case: 'zero first entry, increasing second', buf: file([0, 5, 0]), preallocatedBytes: 12, entries: 2 },
    { case: 'zero first entry, zero second', buf: file([0, 0, 0]), preallocatedBytes: 12, entries: 0 },
    { case: 'zero single entry, trimmed', buf: file([0]), preallocatedBytes: 40, entries: 1 },
    { case: 'zero single entry, preallocated', buf: file([0]), preallocatedBytes: 4, entries: 0 },
    { case: 'zero single entry with a partial entry', buf: file([0], 2), preallocatedBytes: 40, entries: 0 },
    { case: 'stops at the first entry out of order', buf: file([3, 4, 4, 5]), preallocatedBytes: 40, entries: 2 },
    { case: 'partial trailing entry not counted', buf: file([3, 4], 3), preallocatedBytes: 40, entries: 2 },
    { case: 'all entries, trimmed', buf: file([1, 2, 3, 4]), preallocatedBytes: 40, entries: 4 },
  ]
  for (const row of table) {
    it(`counts ${row.entries} for: ${row.case}`, () => {
      expect(countEntries(row.buf, layout, row.preallocatedBytes)).toBe(row.entries)
    })
  }
})

describe('binary searches', () => {
  const keys = [2, 4, 4, 6]
  const keyAt = (i: number): number => keys[i] ?? Number.NaN
  it('largestAtMost finds the last key at or below the target, -1 if none', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((t) => largestAtMost(keys.length, keyAt, t))).toEqual([-1, 0, 0, 2, 2, 3, 3])
    expect(largestAtMost(0, keyAt, 10)).toBe(-1)
  })
  it('firstAtLeast finds the first key at or above the target, the count if none', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((t) => firstAtLeast(keys.length, keyAt, t))).toEqual([0, 0, 1, 1, 3, 3, 4])
    expect(firstAtLeast(0, keyAt, 10)).toBe(0)
  })
})
