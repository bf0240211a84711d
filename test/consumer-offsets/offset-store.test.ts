import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { OffsetStore, offsetStoreDir } from '../../src/consumer-offsets/index.js'
import { SeglogError } from '../../src/errors.js'
import { Partition } from '../../src/partition/index.js'
import { cleanup, tempDir } from './helpers.js'

afterEach(cleanup)

function logFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.log'))
}

describe('OffsetStore', () => {
  it('has no committed offset until the first commit, then keeps the last one across a reopen', async () => {
    const root = tempDir()
    const store = await OffsetStore.open(root, 'g', 'orders', 3)
    expect(store.committed()).toBeUndefined()
    expect(await OffsetStore.peek(root, 'g', 'orders', 3)).toBeUndefined()
    await store.commit(5)
    await store.commit(9, 'batch 2')
    expect(store.committed()).toMatchObject({ offset: 9, metadata: 'batch 2' })
    expect(await OffsetStore.peek(root, 'g', 'orders', 3)).toMatchObject({ offset: 9, metadata: 'batch 2' })
    await store.close()
    await store.close() // idempotent

    const again = await OffsetStore.open(root, 'g', 'orders', 3)
    expect(again.committed()).toMatchObject({ offset: 9, metadata: 'batch 2' })
    expect(again.committed()?.commitTimestamp).toBeGreaterThan(Date.now() - 60_000)
    await again.close()
    expect(fs.existsSync(path.join(root, '@groups', 'g', 'orders', '3'))).toBe(true)
  })

  it('stores each commit as one record keyed <topic>/<partition> with a JSON value', async () => {
    const root = tempDir()
    const store = await OffsetStore.open(root, 'g', 'orders', 1)
    await store.commit(42, 'm')
    await store.close()
    const log = await Partition.openReadOnly(offsetStoreDir(root, 'g', 'orders', 1))
    const { records } = log.read({ from: 0 })
    await log.close()
    expect(records).toHaveLength(1)
    expect(records[0]?.key?.toString()).toBe('orders/1')
    const value = JSON.parse(records[0]?.value?.toString() ?? '') as Record<string, unknown>
    expect(value).toMatchObject({ offset: 42, metadata: 'm' })
    expect(typeof value.commitTimestamp).toBe('number')
  })

  it('never lets a commit go backwards unless forced, nor below 0', async () => {
    const root = tempDir()
    const store = await OffsetStore.open(root, 'g', 't', 0)
    await store.commit(10)
    await expect(store.commit(9)).rejects.toThrow(RangeError)
    await expect(store.commit(-1)).rejects.toThrow(RangeError)
    await expect(store.commit(1.5)).rejects.toThrow(RangeError)
    await store.commit(10) // equal is fine
    await store.commit(3, '', { force: true })
    expect(store.committed()?.offset).toBe(3)
    await store.close()
    await expect(store.commit(4)).rejects.toMatchObject({ code: 'ERR_CLOSED' })
  })

  it('gives ERR_LOCKED to a second owner, in the same process, until the first closes', async () => {
    const root = tempDir()
    const first = await OffsetStore.open(root, 'g', 't', 0)
    const err = await OffsetStore.open(root, 'g', 't', 0).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SeglogError)
    expect((err as SeglogError).code).toBe('ERR_LOCKED')
    // Another partition or another group is independent.
    await (await OffsetStore.open(root, 'g', 't', 1)).close()
    await (await OffsetStore.open(root, 'other', 't', 0)).close()
    // Peeking needs no lock.
    await first.commit(7)
    expect((await OffsetStore.peek(root, 'g', 't', 0))?.offset).toBe(7)
    await first.close()
    const second = await OffsetStore.open(root, 'g', 't', 0)
    expect(second.committed()?.offset).toBe(7)
    await second.close()
  })

  it('rejects bad names before touching the disk', async () => {
    const root = tempDir()
    await expect(OffsetStore.open(root, '../x', 't', 0)).rejects.toMatchObject({ code: 'ERR_INVALID_NAME' })
    await expect(OffsetStore.open(root, 'g', 'a/b', 0)).rejects.toMatchObject({ code: 'ERR_INVALID_NAME' })
    await expect(OffsetStore.open(root, 'g', 't', -1)).rejects.toThrow(RangeError)
    expect(fs.readdirSync(root)).toEqual([])
  })

  it('loads the last of 10,000 commits from a folder that retention keeps to a few segments, after a clean close and after a crash', async () => {
    const root = tempDir()
    const store = await OffsetStore.open(root, 'g', 'orders', 0)
    // Concurrent commits share fsyncs (group commit); each burst is issued in increasing order.
    for (let burst = 0; burst < 20; burst++) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => store.commit(burst * 500 + i + 1, `c${burst * 500 + i + 1}`)))
    }
    expect(store.committed()).toMatchObject({ offset: 10_000, metadata: 'c10000' })
    const dir = offsetStoreDir(root, 'g', 'orders', 0)
    // ~130-byte commits in 64 KiB segments with 128 KiB retention: 2 to 4 segments, not 20.
    expect(logFiles(dir).length).toBeLessThanOrEqual(4)
    // A crash copy: the folder as a SIGKILL would leave it (no clean-shutdown marker).
    const crashRoot = tempDir()
    fs.cpSync(dir, offsetStoreDir(crashRoot, 'g', 'orders', 0), { recursive: true })
    await store.close()

    const reopened = await OffsetStore.open(root, 'g', 'orders', 0)
    expect(reopened.committed()).toMatchObject({ offset: 10_000, metadata: 'c10000' })
    await reopened.close()
    const recovered = await OffsetStore.open(crashRoot, 'g', 'orders', 0)
    expect(recovered.committed()).toMatchObject({ offset: 10_000, metadata: 'c10000' })
    await recovered.close()
    const log = await Partition.openReadOnly(dir)
    expect(log.logStartOffset).toBeGreaterThan(5_000) // old commits were deleted
    expect(log.logEndOffset).toBe(10_000)
    await log.close()
  })

  it('lists a group’s committed offsets for lag reports', async () => {
    const root = tempDir()
    const a = await OffsetStore.open(root, 'g', 'orders', 0)
    const b = await OffsetStore.open(root, 'g', 'orders', 1)
    await a.commit(3)
    await Promise.all([a.close(), b.close()])
    const offsets = await OffsetStore.peekGroup(root, 'g')
    expect(offsets.map((o) => [o.topic, o.partition, o.committed?.offset])).toEqual([
      ['orders', 0, 3],
      ['orders', 1, undefined],
    ])
    expect(await OffsetStore.peekGroup(root, 'nobody')).toEqual([])
  })
})
