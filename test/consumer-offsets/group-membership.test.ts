import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { assignPartitions, GroupMember, MEMBERS_DIR, OffsetStore } from '../../src/consumer-offsets/index.js'
import { cleanup, tempDir } from './helpers.js'

afterEach(cleanup)

const noop = async (): Promise<void> => {}

describe('assignPartitions', () => {
  const topics = [
    { name: 'b', partitions: 3 },
    { name: 'a', partitions: 3 },
  ]

  it('deals the partitions of the topics (by name) round-robin over the sorted members', () => {
    const tps = (member: string): string[] => assignPartitions(['m2', 'm1'], member, topics).map((tp) => `${tp.topic}${tp.partition}`)
    // Pairs: a0 a1 a2 b0 b1 b2 → m1 takes the even places, m2 the odd ones: each topic split 2:1 or 1:2.
    expect(tps('m1')).toEqual(['a0', 'a2', 'b1'])
    expect(tps('m2')).toEqual(['a1', 'b0', 'b2'])
  })

  it('splits a 4-partition topic 2:2 beside a 1-partition topic between two members', () => {
    const split = ['w1', 'w2'].map((m) => assignPartitions(['w1', 'w2'], m, [{ name: 'jobs', partitions: 4 }, { name: 'jobs-retry', partitions: 1 }]))
    expect(split.map((tps) => tps.filter((tp) => tp.topic === 'jobs').length)).toEqual([2, 2])
  })

  it('gives every pair to exactly one member, whatever the member count', () => {
    for (let n = 1; n <= 8; n++) {
      const members = Array.from({ length: n }, (_, i) => `m${i}`)
      const all = members.flatMap((m) => assignPartitions(members, m, topics).map((tp) => `${tp.topic}/${tp.partition}`))
      expect(all.sort()).toEqual(['a/0', 'a/1', 'a/2', 'b/0', 'b/1', 'b/2'])
      const sizes = members.map((m) => assignPartitions(members, m, topics).length)
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    }
  })

  it('gives nothing to a non-member, and same-numbered partitions of equal topics to one member', () => {
    expect(assignPartitions(['x'], 'y', topics)).toEqual([])
    const first = assignPartitions(['x', 'y', 'z'], 'x', [
      { name: 'a', partitions: 3 },
      { name: 'b', partitions: 3 },
      { name: 'c', partitions: 3 },
    ])
    expect(first.map((tp) => `${tp.topic}${tp.partition}`)).toEqual(['a0', 'b0', 'c0'])
  })
})

describe('GroupMember', () => {
  it('sees live members, removes the files of dead ones, and leaves cleanly', async () => {
    const root = tempDir()
    const a = await GroupMember.join(root, 'g', { store: { fsync: 'never' } })
    const b = await GroupMember.join(root, 'g', { store: { fsync: 'never' } })
    expect(a.id).toMatch(new RegExp(`^${process.pid}-[0-9a-f]{16}$`))
    expect(a.liveMembers()).toEqual([a.id, b.id].sort())
    // A member file nobody locks is what a killed process leaves behind.
    const dir = path.join(root, '@groups', 'g', MEMBERS_DIR)
    const dead = `${process.pid + 1}-0123456789abcdef`
    fs.writeFileSync(path.join(dir, dead), '1\n')
    expect(b.liveMembers()).toEqual([a.id, b.id].sort())
    expect(fs.existsSync(path.join(dir, dead))).toBe(false)
    // A member whose file was removed by hand puts it back.
    fs.unlinkSync(path.join(dir, a.id))
    expect(a.liveMembers()).toContain(a.id)
    expect(b.liveMembers()).toEqual([a.id, b.id].sort())
    await b.leave()
    await b.leave() // idempotent
    expect(a.liveMembers()).toEqual([a.id])
    await a.leave()
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it('owns a partition only through its offset store lock, and hands it over when the assignment changes', async () => {
    const root = tempDir()
    const topics = [{ name: 't', partitions: 4 }]
    const a = await GroupMember.join(root, 'g', { store: { fsync: 'never' } })
    expect((await a.rebalance(topics, noop)).assigned.map((tp) => tp.partition)).toEqual([0, 1, 2, 3])
    const b = await GroupMember.join(root, 'g', { store: { fsync: 'never' } })
    // b wants half, but a still holds every lock: b gets nothing yet.
    const early = await b.rebalance(topics, noop)
    expect(early.members).toHaveLength(2)
    expect(early.assigned).toEqual([])
    const released: number[] = []
    const handover = await a.rebalance(topics, async (store) => {
      released.push(store.partition)
    })
    expect(handover.revoked.map((tp) => tp.partition)).toEqual(released)
    expect(released).toHaveLength(2)
    expect((await b.rebalance(topics, noop)).assigned.map((tp) => tp.partition)).toEqual(released)
    const owners = [...a.owned(), ...b.owned()].map((tp) => tp.partition).sort()
    expect(owners).toEqual([0, 1, 2, 3])
    // The lock is the ownership: nobody else can open an owned store.
    await expect(OffsetStore.open(root, 'g', 't', released[0] as number)).rejects.toMatchObject({ code: 'ERR_LOCKED' })
    await b.leave()
    expect((await a.rebalance(topics, noop)).assigned.map((tp) => tp.partition).sort()).toEqual(released.sort())
    await a.leave()
  })
})
