/**
 * Consumer groups across processes: child processes (fixtures/consumer-child.mjs, running dist/)
 * share a topic, are SIGKILLed, and the group still delivers every record at least once.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { MEMBERS_DIR } from '../../src/consumer-offsets/index.js'
import { Child, cleanup, createTopic, produce, requireFreshDist, sleep, tempDir, until } from './helpers.js'

const children: Child[] = []
afterEach(async () => {
  for (const c of children.splice(0)) await c.kill()
  await cleanup()
})
beforeAll(requireFreshDist)

const seed = Number(process.env.SEED ?? Date.now())
console.log(`group-processes test seed: ${seed} (rerun with SEED=${seed})`)
/** mulberry32: a small seeded generator, so a failing run can be repeated. */
function random(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let t = Math.imul(s ^ (s >>> 15), 1 | s)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function spawnConsumer(root: string, group: string, intervalMs: number, mode: 'follow' | 'drain'): Child {
  const child = new Child('consumer-child.mjs', [root, group, 'orders', String(intervalMs), mode])
  children.push(child)
  return child
}

/** The partitions a child owns now, from its assigned / revoked lines. */
function owned(child: Child): Set<number> {
  const set = new Set<number>()
  for (const line of child.lines) {
    const [kind, list] = line.split(' ')
    if (kind !== 'assigned' && kind !== 'revoked') continue
    for (const p of (list ?? '').split(',').filter((x) => x !== '').map(Number)) {
      if (kind === 'assigned') set.add(p)
      else set.delete(p)
    }
  }
  return set
}

describe('consumer groups across processes', () => {
  it('survives a member SIGKILL: the survivor takes its partitions over within the rebalance bound and every record is consumed', async () => {
    const intervalMs = 200
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 4 })
    const a = spawnConsumer(root, 'g', intervalMs, 'follow')
    const b = spawnConsumer(root, 'g', intervalMs, 'follow')
    let producing = true
    const producer = (async () => {
      while (producing) {
        for (let p = 0; p < 4; p++) await produce(topic, p, 1)
        await sleep(5)
      }
    })()
    try {
      await until(() => owned(a).size === 2 && owned(b).size === 2, 'a 2 + 2 split between the children', 15_000)
      expect([...owned(a), ...owned(b)].sort()).toEqual([0, 1, 2, 3])
      await until(() => a.records().length >= 10 && b.records().length >= 10, 'both children consuming', 10_000)

      const orphans = [...owned(b)]
      const killedAt = Date.now()
      await b.kill('SIGKILL')
      await until(() => orphans.every((p) => owned(a).has(p)), 'the survivor taking over', 10_000)
      const tookMs = Date.now() - killedAt
      expect(tookMs).toBeLessThan(5 * intervalMs)
      // The dead member's file is gone too.
      expect(fs.readdirSync(path.join(root, '@groups', 'g', MEMBERS_DIR))).toHaveLength(1)
    } finally {
      producing = false
      await producer
    }
    const ends = await Promise.all([0, 1, 2, 3].map(async (p) => (await topic.writer(p)).logEndOffset))
    const seen = (): Set<string> => new Set([...a.records(), ...b.records()])
    await until(() => ends.every((end, p) => seen().has(`${p} ${end - 1}`)), 'the survivor reaching the end of every partition', 15_000)
    const missing = ends.flatMap((end, p) => Array.from({ length: end }, (_, o) => `${p} ${o}`)).filter((r) => !seen().has(r))
    expect(missing).toEqual([])
  })

  it('delivers every record at least once across SIGKILLs at random points, repeating at most the uncommitted record per partition', async () => {
    const rand = random(seed)
    const perPartition = 150
    const root = tempDir()
    const topic = await createTopic(root, 'orders', { partitions: 2 })
    for (let p = 0; p < 2; p++) for (let i = 0; i < perPartition; i += 30) await produce(topic, p, 30)
    await topic.close()

    const runs: string[][] = []
    for (let kill = 0; kill < 5; kill++) {
      const child = spawnConsumer(root, 'g', 100, 'drain')
      const printed = 5 + Math.floor(rand() * 40)
      await until(() => child.records().length >= printed || !child.running, `${printed} records from run ${kill}`, 15_000)
      await sleep(Math.floor(rand() * 5)) // kill inside a commit as well as between records
      await child.kill('SIGKILL')
      runs.push(child.records())
    }
    const last = spawnConsumer(root, 'g', 100, 'drain')
    const exit = await last.exited
    expect(exit, last.stderr).toEqual({ code: 0, signal: null })
    expect(last.lines.at(-1)).toBe('done')
    runs.push(last.records())

    // Per partition, each run continues where the previous one stopped, or repeats the one record
    // whose commit the kill may have cut short.
    const next = [0, 0]
    let duplicates = 0
    for (const [i, run] of runs.entries()) {
      for (let p = 0; p < 2; p++) {
        const offsets = run.filter((l) => l.startsWith(`${p} `)).map((l) => Number(l.split(' ')[1]))
        if (offsets.length === 0) continue
        const first = offsets[0] as number
        expect(offsets, `run ${i} partition ${p}`).toEqual(Array.from({ length: offsets.length }, (_, k) => first + k))
        expect([next[p] as number, (next[p] as number) - 1], `run ${i} partition ${p} starts at ${first}, previous run ended at ${next[p]}`).toContain(first)
        if (first < (next[p] as number)) duplicates++
        next[p] = (offsets.at(-1) as number) + 1
      }
    }
    expect(next).toEqual([perPartition, perPartition])
    expect(duplicates).toBeLessThanOrEqual(5 * 2)
  })
})
