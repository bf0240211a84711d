import { describe, expect, it } from 'vitest'
import { hashes } from '../../src/hash.js'
import { Partitioner } from '../../src/partition/partitioner.js'

describe('Partitioner', () => {
  it('spreads 10,000 keys evenly over 8 partitions (chi-squared below the 0.1% critical value)', async () => {
    const partitioner = new Partitioner(await hashes())
    const partitions = 8
    const counts = new Array<number>(partitions).fill(0)
    const keys = 10_000
    for (let i = 0; i < keys; i++) counts[partitioner.partitionOf(`user-${i}`, partitions)]++
    const expected = keys / partitions
    const chiSquared = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0)
    // 7 degrees of freedom: P(χ² > 24.32) = 0.001 for a uniform spread.
    expect(chiSquared).toBeLessThan(24.32)
    expect(Math.min(...counts)).toBeGreaterThan(expected * 0.9)
  })

  it('maps a key to one partition always, whether given as a string or bytes', async () => {
    const partitioner = new Partitioner(await hashes())
    for (let i = 0; i < 1000; i++) {
      const key = `order-${i * 7919}`
      const p = partitioner.choose('t', 12, key, undefined)
      expect(partitioner.choose('t', 12, key, undefined)).toBe(p)
      expect(partitioner.choose('t', 12, Buffer.from(key), undefined)).toBe(p)
    }
  })

  it('keeps null keys on one sticky partition until a batch is sent, then moves round-robin', async () => {
    const partitioner = new Partitioner(await hashes())
    const first = partitioner.choose('t', 4, null, undefined)
    expect(partitioner.choose('t', 4, undefined, undefined)).toBe(first)
    partitioner.batchSent('t', first, 4)
    expect(partitioner.choose('t', 4, null, undefined)).toBe((first + 1) % 4)
  })

  it('takes an explicit partition and refuses one out of range', async () => {
    const partitioner = new Partitioner(await hashes())
    expect(partitioner.choose('t', 4, 'k', 3)).toBe(3)
    expect(() => partitioner.choose('t', 4, 'k', 4)).toThrow(RangeError)
  })
})
