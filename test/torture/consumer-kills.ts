/**
 * Scenario 9, consumer offsets under kills. A topic of two partitions grows while consumer
 * processes of one group (one or two at a time, sharing the partitions through their flocks)
 * consume it, printing each record before committing it and each commit once it resolved, and
 * are SIGKILLed at random moments — while reading, committing, joining or rebalancing. After each
 * round the parent opens every committed-offset store (which recovers it) and checks:
 *
 * - a committed offset never goes backwards, never points past the partition's log end, and is at
 *   least the last commit a consumer saw resolve;
 * - the stores are not corrupt (`seglog verify` clean);
 * - a consumer starting on a partition starts at its committed offset (nothing skipped);
 * - at the end, a last consumer drains the topic: every record was delivered at least once — 0 lost.
 */
import path from 'node:path'
import { OffsetStore } from '../../src/consumer-offsets/index.js'
import { Log } from '../../src/log.js'
import type { Partition } from '../../src/partition/index.js'
import { ChildProcessLines, sleep } from './processes.js'
import { collectMappings, describe, problemsText, Random, removeScratch, Report, requireBuilt, scratch, verifyHere, type Level, type Outcome } from './support.js'

const ROUNDS: Record<Level, number> = { test: 6, quick: 30, full: 300 }
const PARTITIONS = 2
const REBALANCE_MS = 100

export async function consumerKills(level: Level, seed: number): Promise<Outcome> {
  requireBuilt()
  const report = new Report('consumer-offsets', seed)
  const random = new Random(seed)
  const root = scratch('disk')
  const log = await Log.open(root)
  const delivered = Array.from({ length: PARTITIONS }, () => new Set<number>())
  const committedSeen = new Array<number>(PARTITIONS).fill(0)
  const committedAcked = new Array<number>(PARTITIONS).fill(0)
  const writers: Partition[] = []
  try {
    // Small offset-store segments are not configurable from here; the topic's are small instead.
    await log.createTopic('t', { partitions: PARTITIONS, fsync: 'always', segmentBytes: 8192 })
    const topic = await log.topic('t')
    for (let p = 0; p < PARTITIONS; p++) writers.push(await topic.writer(p))
    const grow = async (n: number): Promise<void> => {
      for (const [p, w] of writers.entries()) {
        for (let i = 0; i < n; i += 10) await w.append(Array.from({ length: 10 }, (_, k) => ({ value: `t${p}.${w.logEndOffset + k}` })))
      }
    }
    await grow(200)
    for (let round = 1; round <= ROUNDS[level]; round++) {
      const what = `round ${round} (seed ${seed})`
      const members = random.chance(0.5) ? 2 : 1
      const children = Array.from({ length: members }, () => new ChildProcessLines(['consume', root, 'g', String(REBALANCE_MS)]))
      // Kill at a random moment: during start-up and joining, or after some records.
      if (random.chance(0.2)) await sleep(random.int(50, 400))
      else {
        await Promise.race(children.map((c) => c.next((l) => l === 'ready').catch(() => '')))
        await Promise.race(children.map((c) => c.linesOrTime(random.int(1, 400), random.int(20, 600))))
      }
      await grow(random.int(0, 30))
      // Kill one (the other goes on and takes its partitions over) or all.
      if (members === 2 && random.chance(0.5)) {
        await (children[0] as ChildProcessLines).kill('SIGKILL')
        await sleep(random.int(0, 3 * REBALANCE_MS))
      }
      for (const c of children) {
        const exit = await c.kill('SIGKILL')
        report.count('kills')
        if (exit.signal !== 'SIGKILL') report.fail(`${what}: a consumer exited by itself (${exit.code}): ${c.stderr.slice(0, 800)}`)
      }
      collect(children, delivered, committedAcked, report)
      await checkStores(root, writers, committedSeen, committedAcked, report, what)
    }
    // Drain: one consumer until every record was delivered.
    const ends = writers.map((w) => w.logEndOffset)
    const drain = new ChildProcessLines(['consume', root, 'g', String(REBALANCE_MS)])
    const deadline = Date.now() + 60_000
    const missing = (): number => delivered.reduce((n, set, p) => n + Math.max(0, (ends[p] as number) - countBelow(set, ends[p] as number)), 0)
    while (Date.now() < deadline && drain.alive) {
      await drain.linesOrTime(drain.lines.length + 1000, 200)
      collect([drain], delivered, committedAcked, report)
      if (missing() === 0) break
    }
    await drain.kill('SIGKILL')
    collect([drain], delivered, committedAcked, report)
    const lost = missing()
    report.count('lost', lost)
    if (lost > 0) {
      const gaps = delivered.map((set, p) => `partition ${p}: first missing ${Array.from({ length: ends[p] as number }, (_, o) => o).find((o) => !set.has(o))}`)
      report.fail(`after the drain, ${lost} records were never delivered (${gaps.join('; ')}, seed ${seed})`)
    }
    report.figures.records = ends.reduce((a, b) => a + b, 0)
    await checkStores(root, writers, committedSeen, committedAcked, report, `after the drain (seed ${seed})`)
  } catch (err) {
    report.fail(`the scenario threw ${describe(err)} (seed ${seed})`)
  } finally {
    await log.close().catch(() => {})
    removeScratch()
  }
  return report.done(
    `${report.get('kills')} consumer kills, ${report.get('delivered')} deliveries of ${report.get('records')} records, ${report.get('commitsAcked')} commits acked, ` +
      `${report.get('backwards')} committed offsets gone backwards, ${report.get('pastLog')} past the log, ${report.get('belowAcked')} below an acked commit, ` +
      `${report.get('skipped')} starts past the committed offset, ${report.get('corrupt')} corrupt stores, ${report.get('lost')} lost`,
  )
}

function countBelow(set: Set<number>, end: number): number {
  let n = 0
  for (const o of set) if (o < end) n++
  return n
}

/**
 * Read consumers' lines: deliveries and resolved commits. Then, with every delivery of these
 * consumers known (two members of one round hand partitions to each other), the first record each
 * got on a partition must not skip over a record nobody was given.
 */
function collect(children: readonly ChildProcessLines[], delivered: Array<Set<number>>, committedAcked: number[], report: Report): void {
  const firsts: Array<[number, number]> = []
  for (const child of children) {
    const state = child as ChildProcessLines & { collected?: number; firstSeen?: Set<number> }
    state.firstSeen ??= new Set()
    for (let i = state.collected ?? 0; i < child.lines.length; i++) {
      const [word, a, b] = (child.lines[i] as string).split(' ')
      const partition = Number(a)
      const offset = Number(b)
      if (word === 'p') {
        report.count('delivered')
        if (!state.firstSeen.has(partition)) {
          state.firstSeen.add(partition)
          firsts.push([partition, offset])
        }
        ;(delivered[partition] as Set<number>).add(offset)
      } else if (word === 'k') {
        report.count('commitsAcked')
        committedAcked[partition] = Math.max(committedAcked[partition] as number, offset)
      }
    }
    state.collected = child.lines.length
  }
  for (const [partition, offset] of firsts) {
    if (offset > 0 && !(delivered[partition] as Set<number>).has(offset - 1)) {
      report.count('skipped')
      report.fail(`a consumer started partition ${partition} at ${offset}, but ${offset - 1} was never delivered`)
    }
  }
}

async function checkStores(root: string, writers: Partition[], committedSeen: number[], committedAcked: number[], report: Report, what: string): Promise<void> {
  for (let p = 0; p < PARTITIONS; p++) {
    let committed: number
    await collectMappings(100)
    try {
      const store = await OffsetStore.open(root, 'g', 't', p)
      committed = store.committed()?.offset ?? 0
      await store.close()
    } catch (err) {
      report.count('corrupt')
      report.fail(`${what}: the offset store of partition ${p} did not open: ${describe(err)}`)
      continue
    }
    const end = (writers[p] as Partition).logEndOffset
    if (committed < (committedSeen[p] as number)) {
      report.count('backwards')
      report.fail(`${what}: partition ${p}'s committed offset went back from ${committedSeen[p]} to ${committed}`)
    }
    if (committed > end) {
      report.count('pastLog')
      report.fail(`${what}: partition ${p}'s committed offset ${committed} is past the log end ${end}`)
    }
    if (committed < (committedAcked[p] as number)) {
      report.count('belowAcked')
      report.fail(`${what}: partition ${p}'s committed offset ${committed} is below the commit a consumer saw resolve, ${committedAcked[p]}`)
    }
    committedSeen[p] = Math.max(committedSeen[p] as number, committed)
  }
  const verified = await verifyHere([path.join(root, '@groups')])
  if (!verified.ok) {
    report.count('corrupt')
    report.fail(`${what}: verify of the offset stores: ${problemsText(verified)}`)
  }
}
