/**
 * Group commit under fsync 'always': concurrent appends share fdatasyncs, each append resolves
 * only once an fdatasync covers it, offsets follow call order, and maxUnsyncedBytes bounds what
 * waits for an fsync (the torn-write window recovery relies on).
 */
import fs from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { setFaultInjector } from '../../src/file-io.js'
import { Partition } from '../../src/seglog.js'
import { expectNumbered, numbered, readAll, removeTempDirs, tempDir } from './helpers.js'

afterEach(() => {
  setFaultInjector(undefined)
  removeTempDirs()
})

/** Count the fdatasyncs of `.log` files, noting each file's size when its fdatasync starts. */
function countLogSyncs(): { count: () => number; sizes: number[] } {
  const sizes: number[] = []
  setFaultInjector((op, file) => {
    if (op === 'fdatasync' && file.endsWith('.log')) sizes.push(fs.statSync(file).size)
    return undefined
  })
  return { count: () => sizes.length, sizes }
}

describe('Partition group commit', () => {
  it('completes 64 concurrent appends with far fewer fdatasyncs than appends, in call order', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    try {
      const syncs = countLogSyncs()
      const resolvedAt: number[] = []
      const results = await Promise.all(
        Array.from({ length: 64 }, (_, i) =>
          p.append(numbered(i * 2, 2)).then((r) => {
            resolvedAt.push(syncs.count())
            return r
          }),
        ),
      )
      expect(results).toEqual(Array.from({ length: 64 }, (_, i) => ({ baseOffset: i * 2, lastOffset: i * 2 + 1 })))
      expect(syncs.count()).toBeGreaterThanOrEqual(1)
      expect(syncs.count()).toBeLessThanOrEqual(8)
      // Every append resolved after an fdatasync began.
      expect(resolvedAt.every((n) => n >= 1)).toBe(true)
      expect(p.durableOffset).toBe(128)
      expectNumbered(await readAll(p), 0, 128)
    } finally {
      await p.close()
    }
  })

  it('acknowledges nothing before an fdatasync covering it has completed', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir)
    try {
      let syncing = 0
      let completed = 0
      setFaultInjector((op, file) => {
        if (op === 'fdatasync' && file.endsWith('.log')) syncing++
        return undefined
      })
      const ends: number[] = []
      const appends = Array.from({ length: 20 }, (_, i) =>
        p.append(numbered(i, 1)).then((r) => {
          ends.push(r.lastOffset)
          return r
        }),
      )
      // Until a sync has started and a turn of the event loop let it finish, nothing resolves.
      expect(ends).toEqual([])
      expect(p.durableOffset).toBe(0)
      await Promise.all(appends)
      completed = syncing
      expect(completed).toBeGreaterThanOrEqual(1)
      expect(ends).toEqual(Array.from({ length: 20 }, (_, i) => i))
    } finally {
      await p.close()
    }
  })

  it('keeps call order under maxUnsyncedBytes backpressure, and never lets more than that wait for an fsync', async () => {
    const dir = tempDir()
    const MAX_UNSYNCED = 1024
    const p = await Partition.open(dir, { maxUnsyncedBytes: MAX_UNSYNCED })
    try {
      const syncs = countLogSyncs()
      // Batches of about 150 bytes: a few fit under the limit, the rest wait their turn.
      const results = await Promise.all(Array.from({ length: 64 }, (_, i) => p.append(numbered(i * 3, 3).map((r) => ({ ...r, value: `${r.value}-`.padEnd(25, 'x') })))))
      expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: 64 }, (_, i) => i * 3))
      const records = await readAll(p)
      expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 192 }, (_, i) => i))
      for (const r of records) expect(r.value?.toString()).toBe(`v-${r.offset}-`.padEnd(25, 'x'))
      // Backpressure made several fsyncs...
      expect(syncs.count()).toBeGreaterThan(2)
      // ...and never more than maxUnsyncedBytes written beyond what the last completed fsync
      // covered (the torn-write window recovery relies on). Fsyncs run one at a time, so when
      // fsync k starts, fsync k-1 has completed: fsync k covers at most maxUnsyncedBytes more.
      const sizes = [0, ...syncs.sizes]
      for (let k = 1; k < sizes.length; k++) expect(sizes[k]! - sizes[k - 1]!, `fsync ${k - 1}`).toBeLessThanOrEqual(MAX_UNSYNCED)
    } finally {
      await p.close()
    }
  })

  it('lets a batch larger than maxUnsyncedBytes through on its own instead of waiting forever', async () => {
    const dir = tempDir()
    const p = await Partition.open(dir, { maxUnsyncedBytes: 256 })
    try {
      const big = [{ value: Buffer.alloc(2000, 1) }]
      const results = await Promise.all([p.append(numbered(0, 1)), p.append(big), p.append(numbered(2, 1)), p.append(big)])
      expect(results.map((r) => r.baseOffset)).toEqual([0, 1, 2, 3])
      expect((await readAll(p)).map((r) => r.value?.length)).toEqual([3, 2000, 3, 2000])
    } finally {
      await p.close()
    }
  })

  it('flush() makes every appended record durable under each fsync policy', async () => {
    for (const fsync of ['always', 'never', { intervalMs: 60_000 }] as const) {
      const dir = tempDir()
      const p = await Partition.open(dir, { fsync })
      try {
        await Promise.all([p.append(numbered(0, 2)), p.append(numbered(2, 2))])
        const syncs = countLogSyncs()
        await p.flush()
        if (fsync !== 'always') expect(syncs.count()).toBe(1)
        await p.flush() // nothing new: no fsync needed
        if (fsync !== 'always') expect(syncs.count()).toBe(1)
        expect(p.durableOffset).toBe(4)
      } finally {
        setFaultInjector(undefined)
        await p.close()
      }
    }
  })
})
