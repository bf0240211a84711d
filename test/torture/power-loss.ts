/**
 * Scenario 2, simulated power loss. A partition under `fsync: 'always'` takes a random workload —
 * concurrent appends (group commit), segment rolls, index-full rolls, retention, deleteRecordsBefore,
 * flushes, clean closes and reopens — while a {@link CrashModel} records every file operation.
 * At random moments (crash points) the model builds the states a power loss could leave there
 * (unsynced writes dropped, kept, torn at 512-byte sectors with zeros or garbage, reordered;
 * unsynced folder entries kept as a prefix); each is written to a fresh folder and opened:
 *
 * - open succeeds and repairs nothing (a power loss only ever tears the unsynced tail);
 * - the recovered log is a prefix of what was written: offsets from the log start without a gap,
 *   each holding the value written at that offset;
 * - it holds every record acknowledged before the crash point (at or after a log start offset the
 *   workload had asked for);
 * - after a clean close, `seglog verify` finds nothing, and the next open is clean.
 */
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { setWriteRecorder } from '../../src/file-io.js'
import { Partition, type PartitionOptions } from '../../src/partition/index.js'
import { CrashModel, VARIANTS } from './crash-model.js'
import { collectMappings, describe, problemsText, Random, removeScratch, Report, scratch, verifyHere, writeFolder, type Level, type Outcome } from './support.js'

/** Small everything, so that a few hundred appends roll segments, fill indexes and run retention. */
export const POWER_LOSS_OPTIONS: PartitionOptions = {
  fsync: 'always',
  segmentBytes: 4096,
  indexIntervalBytes: 256,
  maxIndexBytes: 256,
  maxUnsyncedBytes: 3000,
  retentionBytes: 24 * 1024,
}

/**
 * Crash states are opened without retention: retention on open may legitimately delete more than
 * the workload had, which would hide whether the crash itself lost anything.
 */
const { retentionBytes: _retention, ...CHECK_OPTIONS } = POWER_LOSS_OPTIONS

/** Crash states to build per level (the workload runs until there are this many). */
const STATES: Record<Level, number> = { test: 600, quick: 3000, full: 12_000 }

interface CrashPoint {
  folder: string
  variant: string
  /** Every offset below this was acknowledged before the crash point. */
  ackedEnd: number
  /** The log start offset may be anything up to this (retention and deleteRecordsBefore asked for it). */
  startLimit: number
  event: number
}

export async function powerLoss(level: Level, seed: number): Promise<Outcome> {
  const report = new Report('power-loss', seed)
  const random = new Random(seed)
  const work = scratch('memory')
  const states = scratch('memory')
  const dir = path.join(work, 'p')
  fs.mkdirSync(dir)
  const model = new CrashModel(dir)
  const written: string[] = [] // offset → value
  let ackedEnd = 0
  let startAsked = 0
  let pending: CrashPoint[] = []
  const distinct = new Set<string>()
  const wanted = STATES[level]
  let built = 0
  // Crash points are taken with this probability at each recorded event; tuned to spread the
  // states over the whole workload rather than bunching them at its start.
  const pointChance = level === 'test' ? 0.25 : 0.3
  let p: Partition | undefined
  try {
    setWriteRecorder((event) => {
      const before = model.events
      model.record(event)
      // Only the workload's own operations are crash points (not those of the states being checked).
      if (model.events === before || built >= wanted || !random.chance(pointChance)) return
      // The log start offset a crash here may legitimately show: what the workload has asked for,
      // or what a checkpoint being written holds.
      let startLimit = Math.max(startAsked, p?.logStartOffset ?? 0)
      for (const name of ['log-start-offset', 'log-start-offset.tmp']) {
        const text = model.currentContent(name)?.toString('utf8')
        if (text !== undefined && /^\d+\n$/.test(text)) startLimit = Math.max(startLimit, Number(text))
      }
      startLimit = Math.max(startLimit, firstSegmentBase(dir))
      for (let i = 0; i < 2 && built < wanted; i++) {
        const variant = random.pick(VARIANTS)
        const files = model.crashState(variant, random)
        const hash = createHash('sha1')
        for (const [name, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(name).update('\0').update(bytes)
        distinct.add(hash.digest('hex'))
        const folder = path.join(states, `s${built}`)
        writeFolder(folder, files)
        pending.push({ folder, variant, ackedEnd, startLimit, event: model.events })
        built++
      }
    })
    p = await Partition.open(dir, POWER_LOSS_OPTIONS)
    let steps = 0
    while (built < wanted) {
      steps++
      const dice = random.next()
      if (dice < 0.03) {
        await p.close()
        report.count('cleanCloses')
        p = await Partition.open(dir, POWER_LOSS_OPTIONS)
      } else if (dice < 0.06 && p.durableOffset > p.logStartOffset) {
        const before = random.int(p.logStartOffset, p.durableOffset)
        startAsked = Math.max(startAsked, before)
        await p.deleteRecordsBefore(before)
        report.count('deleteRecords')
      } else if (dice < 0.08) {
        await p.flush()
      } else {
        const partition = p
        const concurrent = random.int(1, 6)
        const appends: Array<Promise<void>> = []
        for (let a = 0; a < concurrent; a++) {
          const base = written.length
          const count = random.int(1, 4)
          const records = Array.from({ length: count }, (_, i) => ({ key: `k${base + i}`, value: `v${base + i}.${random.bytes(random.int(0, 150)).toString('hex')}` }))
          for (const r of records) written.push(r.value)
          appends.push(
            partition.append(records).then((r) => {
              if (r.baseOffset !== base) report.fail(`append was expected at offset ${base}, got ${r.baseOffset} (seed ${seed})`)
              ackedEnd = Math.max(ackedEnd, r.lastOffset + 1)
            }),
          )
        }
        await Promise.all(appends)
        report.count('appends', concurrent)
      }
      // Check the states built during that step, then drop them.
      const batch = pending
      pending = []
      for (const point of batch) await checkState(point, written, report)
      if (steps > 200_000) throw new Error('power-loss workload did not build its crash states')
    }
    await p.close()
    for (const point of pending.splice(0)) await checkState(point, written, report)
  } catch (err) {
    report.fail(`the workload threw ${describe(err)} (seed ${seed})`)
  } finally {
    setWriteRecorder(undefined)
    await p?.close().catch(() => {})
    removeScratch()
  }
  report.figures.crashStates = report.get('checked')
  report.figures.distinctStates = distinct.size
  report.figures.recordsWritten = written.length
  report.figures.acked = ackedEnd
  return report.done(
    `${report.get('checked')} crash states (${distinct.size} distinct) at ${report.get('crashPoints')} crash points over ${written.length} records written, ` +
      `${report.get('lostAcked')} acknowledged records lost, ${report.get('notPrefix')} not a prefix, ${report.get('openFailed')} opens failed, ` +
      `${report.get('verifyProblems')} verify problems, ${report.get('tornCut')} torn tails cut`,
  )
}

function firstSegmentBase(dir: string): number {
  const logs = fs.readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).sort()
  return logs.length === 0 ? 0 : Number(logs[0]?.slice(0, 20))
}

async function checkState(point: CrashPoint, written: readonly string[], report: Report): Promise<void> {
  report.count('checked')
  if (point.event !== lastEvent) report.count('crashPoints')
  lastEvent = point.event
  const what = `crash state ${path.basename(point.folder)} (${point.variant}, event ${point.event}, seed ${report.seed})`
  const keep = process.env.TORTURE_KEEP
  const before = keep === undefined ? undefined : path.join(keep, `before-${path.basename(point.folder)}`)
  if (before !== undefined) fs.cpSync(point.folder, before, { recursive: true })
  let p: Partition
  await collectMappings()
  try {
    p = await Partition.open(point.folder, CHECK_OPTIONS)
  } catch (err) {
    report.count('openFailed')
    report.fail(`${what}: open threw ${describe(err)}`)
    keepForDebugging(point.folder)
    return
  }
  let ok = true
  try {
    if (p.recovery.truncatedBytes > 0) report.count('tornCut')
    ok &&= report.check(p.recovery.repaired.length === 0, () => `${what}: recovery repaired damage: ${JSON.stringify(p.recovery.repaired)}`)
    const start = p.logStartOffset
    ok &&= report.check(start <= point.startLimit, () => `${what}: log start offset ${start}, but only ${point.startLimit} was asked for`)
    let expected = start
    let prefix = true
    for (let next = start; ; ) {
      const { records, nextOffset } = p.read({ from: next, maxBytes: 1 << 20 })
      for (const r of records) {
        const value = r.value?.toString('utf8')
        if (r.offset !== expected || value !== written[r.offset]) {
          if (prefix) report.fail(`${what}: offset ${r.offset} (expected ${expected}) holds ${String(value).slice(0, 30)}, written there: ${String(written[r.offset]).slice(0, 30)}`)
          prefix = false
        }
        expected = r.offset + 1
      }
      if (nextOffset <= next) break
      next = nextOffset
    }
    if (!prefix) report.count('notPrefix')
    ok &&= prefix
    const end = Math.max(expected, p.logEndOffset)
    if (end < point.ackedEnd && start < point.ackedEnd) {
      report.count('lostAcked', point.ackedEnd - Math.max(end, start))
      report.fail(`${what}: the log ends at ${end}, but offsets up to ${point.ackedEnd - 1} were acknowledged`)
      ok = false
    }
  } catch (err) {
    report.fail(`${what}: reading threw ${describe(err)}`)
    ok = false
  } finally {
    await p.close().catch((err: unknown) => {
      report.fail(`${what}: close threw ${describe(err)}`)
      ok = false
    })
  }
  const verified = await verifyHere([point.folder], { maxUnsyncedBytes: POWER_LOSS_OPTIONS.maxUnsyncedBytes as number })
  if (!verified.ok) {
    report.count('verifyProblems')
    report.fail(`${what}: seglog verify after recovery: ${problemsText(verified)}`)
    ok = false
  }
  if (ok) {
    fs.rmSync(point.folder, { recursive: true, force: true })
    if (before !== undefined) fs.rmSync(before, { recursive: true, force: true })
  } else keepForDebugging(point.folder)
}

let lastEvent = -1

/** With TORTURE_KEEP=dir, failing crash states are copied there for a look. */
function keepForDebugging(folder: string): void {
  const keep = process.env.TORTURE_KEEP
  if (keep === undefined) return
  fs.cpSync(folder, path.join(keep, path.basename(path.dirname(folder)) + '-' + path.basename(folder)), { recursive: true })
}
