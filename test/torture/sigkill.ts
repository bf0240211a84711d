/**
 * Scenario 1, SIGKILL loop: a child process appends with `fsync: 'always'` and prints each
 * acknowledgement; the parent kills it at a random moment (while it opens and recovers, appends,
 * rolls a segment, deletes segments for retention or deleteRecordsBefore, commits an offset), then
 * — most rounds; other rounds a crash follows a crash — reopens the partition and checks:
 *
 * - every acknowledged record at or after the log start offset is there, at its offset, unchanged;
 * - offsets run from the log start offset to the log end offset without a gap;
 * - records are in the order they were sent and none twice (a session is one child's life; values
 *   are `s<session>.<seq>` with seq increasing in send order);
 * - an acknowledged deleteRecordsBefore and an acknowledged commit survived, and the committed
 *   offset does not point past the log;
 * - recovery repaired nothing (a kill leaves at most a torn tail), and `seglog verify` is clean.
 *
 * Two lanes (two partitions, two children) run side by side on the machine's two cores.
 */
import path from 'node:path'
import { OffsetStore } from '../../src/consumer-offsets/index.js'
import { Partition } from '../../src/partition/index.js'
import { Log } from '../../src/log.js'
import { COMPACTED_KEYS, SIGKILL_COMPACTED, SIGKILL_PARTITION, SIGKILL_TOPIC } from './shared.js'
import { ChildProcessLines, sleep } from './processes.js'
import { collectMappings, describe, ms, problemsText, quantile, Random, removeScratch, Report, requireBuilt, scratch, verifyHere, type Level, type Outcome } from './support.js'

const KILLS: Record<Level, number> = { test: 10, quick: 100, full: 2000 }
const LANES: Record<Level, number> = { test: 1, quick: 2, full: 2 }

interface Lane {
  name: string
  /** A compacted partition (`<root>/c/0`): kills also land in compaction. */
  compacted: boolean
  root: string
  dir: string
  session: number
  /** offset → value of every acknowledged record not yet known to be below the log start offset. */
  acked: Map<number, string>
  ackedDeleteBefore: number
  ackedCommit: number
  maxAcked: number
}

export async function sigkill(level: Level, seed: number): Promise<Outcome> {
  requireBuilt()
  const report = new Report('sigkill', seed)
  const random = new Random(seed)
  const reopenMs: number[] = []
  const total = KILLS[level]
  let started = 0
  try {
    const lanes: Lane[] = []
    for (let i = 0; i < LANES[level]; i++) {
      const root = scratch('disk')
      // The topic exists before the first child, whichever style it runs.
      const log = await Log.open(root)
      await log.createTopic('t', SIGKILL_TOPIC)
      await log.close()
      lanes.push({ name: `lane ${i}`, compacted: false, root, dir: path.join(root, 't', '0'), session: 0, acked: new Map(), ackedDeleteBefore: 0, ackedCommit: 0, maxAcked: -1 })
    }
    const compactRoot = scratch('disk')
    lanes.push({ name: 'compacted lane', compacted: true, root: compactRoot, dir: path.join(compactRoot, 'c', '0'), session: 0, acked: new Map(), ackedDeleteBefore: 0, ackedCommit: 0, maxAcked: -1 })
    await Promise.all(
      lanes.map(async (lane) => {
        while (started < total) {
          started++
          const last = started >= total
          await round(lane, random, report)
          if (last || random.chance(0.75)) await (lane.compacted ? checkCompacted(lane, report, reopenMs) : check(lane, report, reopenMs))
        }
        await (lane.compacted ? checkCompacted(lane, report, reopenMs) : check(lane, report, reopenMs))
      }),
    )
  } finally {
    removeScratch()
  }
  report.figures.p99ReopenMs = Math.round(quantile(reopenMs, 0.99) * 10) / 10
  report.figures.maxReopenMs = Math.round(quantile(reopenMs, 1) * 10) / 10
  const f = report.figures
  return report.done(
    `${report.get('kills')} kills (${report.get('killedWhileOpening')} while opening), ${report.get('acked')} acked, ${report.get('lost')} lost, ` +
      `${report.get('gaps')} gaps, ${report.get('reordered')} reordered, ${report.get('duplicates')} duplicated, ${report.get('verifyProblems')} verify problems, ` +
      `${report.get('reopens')} reopens (${report.get('truncatedBytes')} torn bytes cut), p99 reopen ${String(f.p99ReopenMs)} ms; ` +
      `compacted lane: ${report.get('compactions')} compactions acked, ${report.get('compactedLost')} newest-per-key records lost`,
  )
}

async function round(lane: Lane, random: Random, report: Report): Promise<void> {
  const session = ++lane.session
  const style = lane.compacted ? 'compact' : random.chance(0.5) ? 'partition' : 'producer'
  const concurrency = random.pick([1, 2, 4, 8, 16])
  const child = new ChildProcessLines(['produce', lane.root, String(session), String(concurrency), style, String(random.int(0, 2 ** 30))])
  const what = `${lane.name} session ${session} (${style}, ${concurrency} in flight, seed ${report.seed})`
  try {
    if (random.chance(0.15)) {
      // During start-up: loading, opening, recovering what the last kill left.
      await sleep(random.int(0, 150))
      if (!child.lines.includes('ready')) report.count('killedWhileOpening')
    } else {
      // Generous: a start-up takes about 0.2 s, but other work on the machine (fsync storms) can stall it.
      await child.next((l) => l === 'ready', 60_000)
      await child.linesOrTime(Number.MAX_SAFE_INTEGER, random.int(0, 150))
    }
  } catch (err) {
    report.fail(`${what}: the child failed before it was killed: ${describe(err)}`)
  }
  const exit = await child.kill('SIGKILL')
  report.count('kills')
  if (exit.signal !== 'SIGKILL') report.fail(`${what}: the child exited by itself (${exit.code}): ${child.stderr.slice(0, 1000)}`)
  for (const line of child.lines) {
    const [word, a, b, c] = line.split(' ')
    if (word === 'a') {
      const seq = Number(a)
      const count = Number(b)
      const base = Number(c)
      for (let i = 0; i < count; i++) lane.acked.set(base + i, `s${session}.${seq + i}`)
      lane.maxAcked = Math.max(lane.maxAcked, base + count - 1)
      report.count('acked', count)
    } else if (word === 'x') report.count('compactions')
    else if (word === 'd') lane.ackedDeleteBefore = Math.max(lane.ackedDeleteBefore, Number(a))
    else if (word === 'c') lane.ackedCommit = Math.max(lane.ackedCommit, Number(a))
  }
}

/** Reopen the lane's partition in this process and check everything the children were told. */
async function check(lane: Lane, report: Report, reopenMs: number[]): Promise<void> {
  const what = `${lane.name} after session ${lane.session} (seed ${report.seed})`
  await collectMappings(100)
  const t0 = process.hrtime.bigint()
  let p: Partition
  try {
    p = await Partition.open(lane.dir, SIGKILL_PARTITION)
  } catch (err) {
    report.fail(`${what}: reopening threw ${describe(err)}`)
    return
  }
  reopenMs.push(ms(process.hrtime.bigint() - t0))
  report.count('reopens')
  try {
    report.count('truncatedBytes', p.recovery.truncatedBytes)
    report.check(p.recovery.repaired.length === 0, () => `${what}: recovery repaired damage a kill cannot cause: ${JSON.stringify(p.recovery.repaired)}`)
    const start = p.logStartOffset
    report.check(start >= lane.ackedDeleteBefore, () => `${what}: log start offset ${start} is below the acknowledged deleteRecordsBefore(${lane.ackedDeleteBefore})`)
    report.check(p.logEndOffset > lane.maxAcked, () => `${what}: log end offset ${p.logEndOffset}, but offset ${lane.maxAcked} was acknowledged`)
    let expected = start
    let previous: [number, number] | undefined
    for (let next = start; ; ) {
      const { records, nextOffset } = p.read({ from: next, maxBytes: 256 * 1024 })
      for (const r of records) {
        if (r.offset !== expected) {
          report.count('gaps')
          report.fail(`${what}: offset ${r.offset} follows ${expected - 1} (a gap or a step back)`)
        }
        expected = r.offset + 1
        const value = r.value?.toString('utf8') ?? ''
        const want = lane.acked.get(r.offset)
        if (want !== undefined && want !== value) {
          report.count('lost')
          report.fail(`${what}: offset ${r.offset} holds ${value}, ${want} was acknowledged there`)
        }
        lane.acked.delete(r.offset)
        const m = /^s(\d+)\.(\d+)$/.exec(value)
        if (m === null) {
          report.fail(`${what}: offset ${r.offset} holds ${JSON.stringify(value.slice(0, 40))}, not a value any child sent`)
          continue
        }
        const id: [number, number] = [Number(m[1]), Number(m[2])]
        if (previous !== undefined) {
          const order = id[0] - previous[0] || id[1] - previous[1]
          if (order === 0) {
            report.count('duplicates')
            report.fail(`${what}: s${id[0]}.${id[1]} is in the log twice (offset ${r.offset} and before)`)
          } else if (order < 0) {
            report.count('reordered')
            report.fail(`${what}: s${id[0]}.${id[1]} at offset ${r.offset} comes after s${previous[0]}.${previous[1]}`)
          }
        }
        previous = id
      }
      if (nextOffset <= next) break
      next = nextOffset
    }
    // What is left was acknowledged but not read back: lost unless retention took it.
    for (const [offset, value] of lane.acked) {
      if (offset < start) continue
      report.count('lost')
      report.fail(`${what}: acknowledged offset ${offset} (${value}) is missing; the log holds [${start}, ${p.logEndOffset})`)
    }
    lane.acked.clear()
    const store = await OffsetStore.open(lane.root, 'g', 't', 0)
    try {
      const committed = store.committed()?.offset ?? 0
      report.check(committed >= lane.ackedCommit, () => `${what}: committed offset ${committed} is below the acknowledged commit ${lane.ackedCommit}`)
      report.check(committed <= p.logEndOffset, () => `${what}: committed offset ${committed} points past the log end ${p.logEndOffset}`)
    } finally {
      await store.close()
    }
  } catch (err) {
    report.fail(`${what}: checking threw ${describe(err)}`)
  } finally {
    await p.close().catch((err: unknown) => report.fail(`${what}: close threw ${describe(err)}`))
  }
  const verified = await verifyHere([lane.root])
  if (!verified.ok) {
    report.count('verifyProblems', Math.max(1, verified.problems.length))
    report.fail(`${what}: seglog verify: ${problemsText(verified)}`)
  }
}

/**
 * The compacted lane: compaction may drop a record only when a newer record of its key is in the
 * log, so every acknowledged record is either there, unchanged, or superseded by a later one of
 * its key; offsets increase (with gaps) and records stay in send order.
 */
async function checkCompacted(lane: Lane, report: Report, reopenMs: number[]): Promise<void> {
  const what = `${lane.name} after session ${lane.session} (seed ${report.seed})`
  await collectMappings(100)
  const t0 = process.hrtime.bigint()
  let p: Partition
  try {
    p = await Partition.open(lane.dir, SIGKILL_COMPACTED)
  } catch (err) {
    report.fail(`${what}: reopening threw ${describe(err)}`)
    return
  }
  reopenMs.push(ms(process.hrtime.bigint() - t0))
  report.count('reopens')
  try {
    report.check(p.recovery.repaired.length === 0, () => `${what}: recovery repaired damage a kill cannot cause: ${JSON.stringify(p.recovery.repaired)}`)
    report.check(p.logEndOffset > lane.maxAcked, () => `${what}: log end offset ${p.logEndOffset}, but offset ${lane.maxAcked} was acknowledged`)
    const present = new Map<number, string>()
    const newestOfKey = new Map<string, number>()
    let previous: [number, number] | undefined
    let last = -1
    for (let next = p.logStartOffset; ; ) {
      const { records, nextOffset } = p.read({ from: next, maxBytes: 256 * 1024 })
      for (const r of records) {
        if (r.offset <= last) report.fail(`${what}: offset ${r.offset} follows ${last}`)
        last = r.offset
        const value = r.value?.toString('utf8') ?? ''
        present.set(r.offset, value)
        newestOfKey.set(r.key?.toString('utf8') ?? '', r.offset)
        const m = /^s(\d+)\.(\d+)$/.exec(value)
        if (m === null) {
          report.fail(`${what}: offset ${r.offset} holds ${JSON.stringify(value.slice(0, 40))}, not a value any child sent`)
          continue
        }
        const id: [number, number] = [Number(m[1]), Number(m[2])]
        if (previous !== undefined && (id[0] - previous[0] || id[1] - previous[1]) <= 0) {
          report.count('reordered')
          report.fail(`${what}: s${id[0]}.${id[1]} at offset ${r.offset} comes after s${previous[0]}.${previous[1]}`)
        }
        previous = id
        const key = r.key?.toString('utf8')
        if (key !== `k${id[1] % COMPACTED_KEYS}`) report.fail(`${what}: offset ${r.offset} has key ${String(key)}, sent with k${id[1] % COMPACTED_KEYS}`)
      }
      if (nextOffset <= next) break
      next = nextOffset
    }
    for (const [offset, value] of lane.acked) {
      const found = present.get(offset)
      if (found === value) continue
      const m = /^s\d+\.(\d+)$/.exec(value) as RegExpExecArray
      const key = `k${Number(m[1]) % COMPACTED_KEYS}`
      if (found === undefined && (newestOfKey.get(key) ?? -1) > offset) continue // superseded, compacted away
      report.count(found === undefined ? 'compactedLost' : 'lost')
      report.fail(`${what}: acknowledged ${value} at offset ${offset} is ${found === undefined ? `gone, and the newest ${key} is at ${String(newestOfKey.get(key))}` : `replaced by ${found}`}`)
    }
  } catch (err) {
    report.fail(`${what}: checking threw ${describe(err)}`)
  } finally {
    await p.close().catch((err: unknown) => report.fail(`${what}: close threw ${describe(err)}`))
  }
  const verified = await verifyHere([lane.root])
  if (!verified.ok) {
    report.count('verifyProblems', Math.max(1, verified.problems.length))
    report.fail(`${what}: seglog verify: ${problemsText(verified)}`)
  }
}
