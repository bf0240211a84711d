/**
 * The public entry point: topics, names, config, producers (durable acks, partitioning,
 * idempotent resend after a storage error), describe and groups.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { errnoError, Log, Partition, setFaultInjector } from '../src/seglog.js'

let root: string
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-log-'))
})
afterEach(() => {
  setFaultInjector(undefined)
  fs.rmSync(root, { recursive: true, force: true })
})

function tree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()
}

describe('Log topics', () => {
  it('creates a topic once: the same config again is a no-op, a different one ERR_INVALID_CONFIG', async () => {
    const log = await Log.open(path.join(root, 'data'))
    await log.createTopic('orders', { partitions: 3, retentionBytes: 1 << 30 })
    await log.createTopic('orders', { partitions: 3, retentionBytes: 1 << 30 })
    await expect(log.createTopic('orders', { partitions: 4 })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
    expect(log.topics()).toEqual(['orders'])
    expect((await log.describe('orders')).partitions.map((p) => p.partition)).toEqual([0, 1, 2])
    await log.close()
    const reopened = await Log.open(path.join(root, 'data'))
    await expect(reopened.createTopic('orders', { partitions: 3 })).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
    await reopened.close()
  })

  it('rejects bad topic and group names with ERR_INVALID_NAME and creates nothing', async () => {
    const log = await Log.open(root)
    const before = tree(root)
    const bad = ['', '.', '..', '../x', 'a/b', 'a\\b', 'nul\0byte', 'x'.repeat(250), 'ordérs', 'оrders' /* Cyrillic o */, 'sp ace', '@groups', 'a:b']
    for (const name of bad) {
      await expect(log.createTopic(name, { partitions: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_NAME' })
      expect(() => log.consumer({ group: name, topics: ['t'] })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_NAME' }) as Error)
    }
    expect(tree(root)).toEqual(before)
    await log.close()
  })

  it('refuses to send to a topic that does not exist, naming it', async () => {
    const log = await Log.open(root)
    await expect(log.producer().send('nope', { value: 'x' })).rejects.toMatchObject({ code: 'ERR_UNKNOWN_TOPIC' })
    await log.close()
  })
})

describe('Producer', () => {
  it('sends concurrently, resolves durable offsets, and keeps one key on one partition', async () => {
    const log = await Log.open(root)
    await log.createTopic('events', { partitions: 4 })
    const producer = log.producer()
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => producer.send('events', { key: `k${i % 20}`, value: `v${i}` })))
    const partitionOfKey = new Map<string, number>()
    results.forEach((r, i) => {
      const key = `k${i % 20}`
      expect(partitionOfKey.get(key) ?? r.partition).toBe(r.partition)
      partitionOfKey.set(key, r.partition)
    })
    const description = await log.describe('events')
    expect(description.partitions.reduce((sum, p) => sum + p.durableOffset, 0)).toBe(400)
    // Offsets per partition are unique and dense.
    for (const p of description.partitions) {
      const offsets = results.filter((r) => r.partition === p.partition).map((r) => r.offset).sort((a, b) => a - b)
      expect(offsets).toEqual(Array.from({ length: p.durableOffset }, (_, i) => i))
    }
    await log.close()
  })

  it('resends a batch after an fsync failure and the partition appends it only once', async () => {
    const log = await Log.open(root)
    await log.createTopic('t', { partitions: 1 })
    const producer = log.producer()
    await producer.send('t', { value: 'first' })
    let failures = 0
    setFaultInjector((op, file) => {
      if (op === 'fdatasync' && file.endsWith('.log') && failures === 0) {
        failures++
        return errnoError('EIO', op, file)
      }
      return undefined
    })
    // The write reaches the page cache, the fsync fails: the partition refuses further appends,
    // the producer reopens it (recovery keeps the written batch) and resends with the same sequence.
    const result = await producer.send('t', { value: 'second' })
    setFaultInjector(undefined)
    expect(failures).toBe(1)
    expect(result.offset).toBe(1)
    await log.close()
    const p = await Partition.openReadOnly(path.join(root, 't', '0'))
    const values: string[] = []
    for await (const r of p.records({ from: 0 })) values.push(String(r.value))
    expect(values).toEqual(['first', 'second'])
    await p.close()
  })
})

describe('Log.groups', () => {
  it('reports the committed offset and lag of each partition of a group', async () => {
    const log = await Log.open(root)
    await log.createTopic('q', { partitions: 2 })
    const producer = log.producer()
    for (let i = 0; i < 10; i++) await producer.send('q', { value: `m${i}`, partition: i % 2 })
    const consumer = log.consumer({ group: 'g', topics: ['q'], from: 'earliest', follow: false })
    let seen = 0
    for await (const msg of consumer) {
      seen++
      if (msg.offset < 2) await consumer.commit(msg)
    }
    expect(seen).toBe(10)
    await consumer.close()
    const [group] = await log.groups()
    expect(group?.group).toBe('g')
    expect(group?.partitions.map((p) => [p.partition, p.committed, p.lag])).toEqual([
      [0, 2, 3],
      [1, 2, 3],
    ])
    await log.close()
  })
})
