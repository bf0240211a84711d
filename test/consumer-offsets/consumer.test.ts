import { afterEach, describe, expect, it } from 'vitest'
import { Consumer, OffsetStore, type ConsumerMessage, type ConsumerOptions, type OffsetReset } from '../../src/consumer-offsets/index.js'
import type { Topic } from '../../src/partition/topic.js'
import { allIds, cleanup, contextOf, createTopic, ids, produce, tempDir, until } from './helpers.js'

afterEach(cleanup)

const consumers: Consumer[] = []
afterEach(async () => {
  for (const c of consumers.splice(0)) await c.close()
})

function consumer(root: string, topic: Topic, options: Partial<ConsumerOptions> = {}): Consumer {
  const c = new Consumer(contextOf(root, topic), { group: 'g', topics: [topic.name], rebalanceIntervalMs: 50, ...options })
  consumers.push(c)
  return c
}

/** Consume until `count` messages arrived (follow mode), then leave the loop (the consumer stays open). */
async function take(c: Consumer, count: number): Promise<ConsumerMessage[]> {
  const out: ConsumerMessage[] = []
  if (count === 0) return out
  for await (const msg of c) {
    out.push(msg)
    if (out.length === count) break
  }
  return out
}

/** Consume with follow: false until caught up. */
async function drain(c: Consumer): Promise<ConsumerMessage[]> {
  const out: ConsumerMessage[] = []
  for await (const msg of c) out.push(msg)
  return out
}

describe('Consumer', () => {
  it('resumes a group from its committed offsets after close', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 2 })
    await produce(topic, 0, 10)
    await produce(topic, 1, 10)

    const first = consumer(root, topic, { follow: false })
    const seen = await take(first, 7)
    await first.commit()
    await first.close()
    expect(first.assignment()).toEqual([])

    const second = consumer(root, topic, { follow: false })
    const rest = await drain(second)
    // Nothing lost, nothing repeated: everything after the commit, exactly once.
    expect([...ids(seen), ...ids(rest)].sort()).toEqual(allIds('orders', [0, 1], 10).sort())
    expect(await OffsetStore.peek(root, 'g', 'orders', 0)).toMatchObject({ offset: seen.filter((m) => m.partition === 0).length })
  })

  it('yields each partition in offset order and takes partitions in turn', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 3 })
    for (let round = 0; round < 4; round++) for (let p = 0; p < 3; p++) await produce(topic, p, 5)
    // Small reads: each turn gives one batch (5 records) of one partition.
    const c = consumer(root, topic, { follow: false, maxBytes: 1 })
    const all = await drain(c)
    for (let p = 0; p < 3; p++) expect(all.filter((m) => m.partition === p).map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    // Fair: the first 15 messages come from all three partitions, 5 each.
    expect(all.slice(0, 15).map((m) => m.partition)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    expect(all[0]?.value?.toString()).toBe('p0-0')
    expect(all[0]?.key?.toString()).toBe('k0')
  })

  it('commit(msg) stores msg.offset + 1 and ignores an older message', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 1 })
    await produce(topic, 0, 5)
    const c = consumer(root, topic, { follow: false })
    const msgs = await drain(c)
    await c.commit(msgs[3] as ConsumerMessage, 'meta')
    await c.commit(msgs[1] as ConsumerMessage) // out of order: no-op, offsets never go back
    expect(await OffsetStore.peek(root, 'g', 'orders', 0)).toMatchObject({ offset: 4, metadata: 'meta' })
    await expect(c.commit({ topic: 'orders', partition: 0, offset: 9 })).rejects.toThrow(RangeError) // not yielded
  })

  it('starts a group without committed offsets per from: earliest, latest, none', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 2 })
    await produce(topic, 0, 10)
    await produce(topic, 1, 4)

    const earliest = consumer(root, topic, { group: 'early', follow: false })
    expect((await drain(earliest)).length).toBe(14)

    const latest = consumer(root, topic, { group: 'late', from: 'latest' })
    await latest.start() // assigned: 'latest' is the durable offset now
    await produce(topic, 0, 3)
    expect(ids(await take(latest, 3))).toEqual(['orders/0:10', 'orders/0:11', 'orders/0:12'])

    const none = consumer(root, topic, { group: 'strict', from: 'none' })
    await expect(none.start()).rejects.toMatchObject({ code: 'ERR_OFFSET_OUT_OF_RANGE', message: expect.stringMatching(/no committed offset and from is 'none'/) as unknown })
    await none.close()

    // With a seek for every partition, 'none' has nothing to complain about.
    const seeking = consumer(root, topic, { group: 'strict', from: 'none', follow: false })
    seeking.seek({ topic: 'orders', partition: 0, offset: 12 })
    seeking.seek({ topic: 'orders', partition: 1, offset: 3 })
    expect(ids(await drain(seeking))).toEqual(['orders/0:12', 'orders/1:3'])
  })

  it('seeks by offset and by timestamp, on owned partitions and before assignment', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'events', { partitions: 1 })
    const writer = await topic.writer(0)
    await writer.append(Array.from({ length: 10 }, (_, i) => ({ value: `e${i}`, timestamp: 1_000_000 + i * 10 })))
    const c = consumer(root, topic, { follow: false })
    c.seek({ topic: 'events', partition: 0, offset: 5 }) // remembered until assigned
    const first = await take(c, 2)
    expect(first.map((m) => m.offset)).toEqual([5, 6])
    expect(first[0]?.timestamp).toBe(1_000_050)

    c.seek({ topic: 'events', partition: 0, timestamp: 1_000_073 }) // first record at or after: offset 8
    expect((await drain(c)).map((m) => m.offset)).toEqual([8, 9])

    // Seeking backwards lets the next commit go back too.
    await c.commit()
    c.seek({ topic: 'events', partition: 0, offset: 1 })
    const again = await take(c, 1)
    expect(again[0]?.offset).toBe(1)
    await c.commit(again[0] as ConsumerMessage)
    expect((await OffsetStore.peek(root, 'g', 'events', 0))?.offset).toBe(2)

    // A seek past the log resets per `from` ('earliest' here) and says so.
    const resets: OffsetReset[] = []
    c.on('offset-reset', (r) => resets.push(r))
    c.seek({ topic: 'events', partition: 0, offset: 99 })
    expect((await take(c, 1))[0]?.offset).toBe(0)
    expect(resets).toEqual([{ topic: 'events', partition: 0, committed: 99, logStartOffset: 0, resetTo: 0 }])

    expect(() => c.seek({ topic: 'other', partition: 0, offset: 1 })).toThrow(RangeError)
    expect(() => c.seek({ topic: 'events', partition: 0, offset: -1 })).toThrow(RangeError)
  })

  it('resets a committed offset that retention deleted, and a position that retention passed, per from', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'logs', { partitions: 1, segmentBytes: 1024, retentionBytes: 2048 })
    await produce(topic, 0, 5)
    const first = consumer(root, topic, { follow: false })
    await take(first, 3)
    await first.commit()
    await first.close()
    for (let i = 0; i < 60; i++) await produce(topic, 0, 1, { value: 'x'.repeat(100) })
    const writer = await topic.writer(0)
    expect(writer.logStartOffset).toBeGreaterThan(3) // the committed offset is gone

    const second = consumer(root, topic, { follow: false })
    const resets: OffsetReset[] = []
    second.on('offset-reset', (r) => resets.push(r))
    const msgs = await drain(second)
    expect(resets).toEqual([{ topic: 'logs', partition: 0, committed: 3, logStartOffset: writer.logStartOffset, resetTo: writer.logStartOffset }])
    expect(msgs[0]?.offset).toBe(writer.logStartOffset)
    expect(msgs.at(-1)?.offset).toBe(writer.logEndOffset - 1)

    // Mid-iteration: the position is settled, then retention moves past it before the next read.
    const third = consumer(root, topic, { group: 'g3', from: 'earliest', follow: false })
    await third.start()
    const thirdResets: OffsetReset[] = []
    third.on('offset-reset', (r) => thirdResets.push(r))
    const startedAt = writer.logStartOffset
    for (let i = 0; i < 40; i++) await produce(topic, 0, 1, { value: 'y'.repeat(100) })
    expect(writer.logStartOffset).toBeGreaterThan(startedAt)
    // Let the shared read-only handle see the deletion (another consumer reading the tail would).
    const reader = await topic.reader(0)
    expect(() => reader.read({ from: reader.durableOffset })).toThrow(/the log starts at/)
    const thirdMsgs = await drain(third)
    expect(thirdResets).toEqual([{ topic: 'logs', partition: 0, committed: startedAt, logStartOffset: writer.logStartOffset, resetTo: writer.logStartOffset }])
    expect(thirdMsgs[0]?.offset).toBe(writer.logStartOffset)

    // With from: 'none', an out-of-range committed offset is an error instead.
    const store = await OffsetStore.open(root, 'strict', 'logs', 0)
    await store.commit(1)
    await store.close()
    const strict = consumer(root, topic, { group: 'strict', from: 'none', follow: false })
    await expect(drain(strict)).rejects.toMatchObject({ code: 'ERR_OFFSET_OUT_OF_RANGE', message: expect.stringMatching(/from offset 1: the log holds offsets \d+ to \d+ and from is 'none'/) as unknown })
  })

  it('does not read paused partitions until resumed', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 2 })
    await produce(topic, 0, 3)
    await produce(topic, 1, 3)
    const c = consumer(root, topic, { follow: false })
    c.pause([{ topic: 'orders', partition: 0 }])
    expect(c.paused()).toEqual([{ topic: 'orders', partition: 0 }])
    expect(ids(await drain(c))).toEqual(['orders/1:0', 'orders/1:1', 'orders/1:2'])
    c.resume([{ topic: 'orders', partition: 0 }])
    expect(ids(await drain(c))).toEqual(['orders/0:0', 'orders/0:1', 'orders/0:2'])
  })

  it('wakes within milliseconds when a record is appended while it waits', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 1 })
    const c = consumer(root, topic, { rebalanceIntervalMs: 10_000 })
    await c.start()
    const iterator = c[Symbol.asyncIterator]()
    const next = iterator.next()
    await new Promise((r) => setTimeout(r, 30))
    const sent = Date.now()
    await produce(topic, 0, 1)
    const got = await next
    expect(got.value).toMatchObject({ offset: 0 })
    expect(Date.now() - sent).toBeLessThan(200)
    await iterator.return()
  })

  it('auto-commits processed records periodically and on close, never the one being processed', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 1 })
    await produce(topic, 0, 10)
    const c = consumer(root, topic, { autoCommit: { intervalMs: 20 } })
    let n = 0
    for await (const msg of c) {
      if (++n === 4) {
        await new Promise((r) => setTimeout(r, 40))
        continue
      }
      if (msg.offset === 6) {
        await c.close() // closing inside the body: record 6 is not processed yet
        break
      }
    }
    expect((await OffsetStore.peek(root, 'g', 'orders', 0))?.offset).toBe(6)
  })

  it('throws ERR_LOCKED when committing a partition it no longer owns, and ERR_CLOSED after close', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 1 })
    await produce(topic, 0, 2)
    const c = consumer(root, topic, { follow: false })
    const [msg] = await drain(c)
    await c.close()
    await expect(c.commit(msg)).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    const other = consumer(root, topic, { follow: false })
    await expect(other.commit({ topic: 'orders', partition: 0, offset: 0 })).rejects.toMatchObject({ code: 'ERR_LOCKED', message: expect.stringMatching(/reassigned/) as unknown })
  })

  it('splits partitions between two members in one process, never sharing one, and takes them back when one leaves', async () => {
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 4 })
    const a = consumer(root, topic, { rebalanceIntervalMs: 30, autoCommit: { intervalMs: 20 } })
    const b = consumer(root, topic, { rebalanceIntervalMs: 30, autoCommit: { intervalMs: 20 } })
    const seen: ConsumerMessage[] = []
    const loops = [a, b].map(async (c) => {
      for await (const msg of c) seen.push(msg)
    })
    let overlap: string | undefined
    const monitor = setInterval(() => {
      const mine = new Set(a.assignment().map((tp) => tp.partition))
      for (const tp of b.assignment()) if (mine.has(tp.partition)) overlap = `both own ${tp.partition}`
    }, 2)
    try {
      await until(() => a.assignment().length === 2 && b.assignment().length === 2, 'a 2 + 2 split')
      const parts = [a, b].map((c) => c.assignment().map((tp) => tp.partition))
      expect(parts.flat().sort()).toEqual([0, 1, 2, 3])
      // Round-robin over the sorted member ids: one member gets 0 and 2, the other 1 and 3.
      expect(parts.map((p) => p.join())).toContain('0,2')
      for (let p = 0; p < 4; p++) await produce(topic, p, 5)
      await until(() => seen.length === 20, 'all 20 records')
      await b.close()
      await until(() => a.assignment().length === 4, 'a takes over all 4 partitions', 2_000)
      for (let p = 0; p < 4; p++) await produce(topic, p, 5)
      await until(() => seen.length >= 40, 'the next 20 records')
    } finally {
      clearInterval(monitor)
      await a.close()
      await b.close()
      await Promise.all(loops)
    }
    expect(overlap).toBeUndefined()
    // At-least-once across the handover: every record seen, repeats only from uncommitted windows.
    expect(new Set(ids(seen))).toEqual(new Set(allIds('orders', [0, 1, 2, 3], 10)))
  })

  it('validates its options', () => {
    const ctx = { root: '/nonexistent', topic: () => Promise.reject(new Error('unused')) }
    expect(() => new Consumer(ctx, { group: 'a/b', topics: ['t'] })).toThrow(/Invalid group name/)
    expect(() => new Consumer(ctx, { group: 'g', topics: [] })).toThrow(TypeError)
    expect(() => new Consumer(ctx, { group: 'g', topics: ['t'], from: 'middle' as 'earliest' })).toThrow(TypeError)
    expect(() => new Consumer(ctx, { group: 'g', topics: ['t'], rebalanceIntervalMs: 0 })).toThrow(RangeError)
    expect(() => new Consumer(ctx, { group: 'g', topics: ['t'], autoCommit: { intervalMs: -1 } })).toThrow(RangeError)
    expect(() => new Consumer(ctx, { group: 'g', topics: ['t'], bogus: 1 } as ConsumerOptions)).toThrow(/Unknown consumer option 'bogus'/)
  })
})
