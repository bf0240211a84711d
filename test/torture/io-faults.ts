/**
 * Scenario 5, I/O errors SQLite-style. A fixed workload (appends, some concurrent; rolls;
 * retention; deleteRecordsBefore; a close and reopen; an idempotent producer through Log) runs
 * with the Nth file operation failing — N = 1, 2, … until the workload completes untouched — with
 * EIO, ENOSPC and EDQUOT, once (only the Nth) and persistently (the Nth and every one after it).
 * The workload reopens a failed partition as an application would. Checks:
 *
 * - every error the API throws is a typed `SeglogError`;
 * - after a failed write or fsync, the partition refuses every later append and flush until it
 *   is reopened (no acknowledgement after the failure);
 * - no acknowledgement for data that was not made durable: the {@link CrashModel} builds the state
 *   a power loss right after the run would leave (only fsync'd data and folder entries), and every
 *   acknowledged record must be in it;
 * - after the fault is gone, a reopen recovers: every acknowledged record is there, in order, no
 *   record twice, and `seglog verify` is clean.
 */
import fs from 'node:fs'
import path from 'node:path'
import { errnoError, setFaultInjector, setWriteRecorder, type IoOp } from '../../src/file-io.js'
import { SeglogError } from '../../src/errors.js'
import { Partition, type PartitionOptions } from '../../src/partition/index.js'
import { Log } from '../../src/log.js'
import { CrashModel } from './crash-model.js'
import { collectMappings, describe, isTypedError, problemsText, Random, removeScratch, Report, scratch, verifyHere, writeFolder, type Level, type Outcome } from './support.js'

const OPTIONS: PartitionOptions = { fsync: 'always', segmentBytes: 1024, indexIntervalBytes: 128, maxIndexBytes: 256, retentionBytes: 4096 }
const CODES = ['EIO', 'ENOSPC', 'EDQUOT'] as const
/** Operations counted for "the Nth": everything that touches files except close. */
const COUNTED: ReadonlySet<IoOp> = new Set(['open', 'read', 'write', 'fdatasync', 'fsync-dir', 'rename', 'ftruncate', 'unlink', 'mkdir'])
/**
 * Injection points: every N, or every Nth N (always starting at 1). seglog handles every errno
 * alike, so EIO gets every point and ENOSPC and EDQUOT every third in the full run.
 */
const STRIDE: Record<Level, Record<(typeof CODES)[number], number>> = {
  test: { EIO: 23, ENOSPC: 41, EDQUOT: 59 },
  quick: { EIO: 6, ENOSPC: 17, EDQUOT: 19 },
  full: { EIO: 1, ENOSPC: 3, EDQUOT: 3 },
}

interface Written {
  /** value → acknowledged offset (undefined: written, not acknowledged) */
  acked: Map<string, number | undefined>
  /** values in the order they were sent */
  order: string[]
}

type Workload = (dir: string, report: Report, written: Written, what: string) => Promise<void>

/** Untyped errors already reported in this run (one failure per API call and operation, not per occurrence). */
let untypedSeen = new Set<string>()

function untyped(report: Report, what: string, action: string, err: unknown): void {
  const op = (err as NodeJS.ErrnoException).syscall ?? ''
  const key = `${action} ${op}`
  if (untypedSeen.has(key)) return
  untypedSeen.add(key)
  report.count('untyped')
  report.fail(`${what}: ${action} threw an untyped ${describe(err)}`)
}

export async function ioFaults(level: Level, seed: number): Promise<Outcome> {
  const report = new Report('io-faults', seed)
  try {
    for (const [name, workload] of [['partition', partitionWorkload], ['producer', producerWorkload]] as const) {
      // How many counted operations the workload makes with no fault.
      const total = await countOps(name, workload, report)
      report.count(`${name}Ops`, total)
      for (const code of CODES) {
        for (const persistent of [false, true]) {
          const stride = STRIDE[level][code]
          for (let n = 1; n <= total + 1; n += n === 1 ? Math.max(1, stride - 1) : stride) {
            await inject(name, workload, n, code, persistent, report)
          }
        }
      }
    }
  } catch (err) {
    report.fail(`the scenario threw ${describe(err)}`)
  } finally {
    setFaultInjector(undefined)
    setWriteRecorder(undefined)
    removeScratch()
  }
  return report.done(
    `${report.get('points')} injection points (ops 1..${report.get('partitionOps')} of a partition workload and 1..${report.get('producerOps')} of a producer one, ` +
      `× EIO/ENOSPC/EDQUOT × once/persistent), ${report.get('faultsHit')} faults hit, ${report.get('untyped')} untyped errors, ` +
      `${report.get('ackedAfterFailure')} acks after a failure, ${report.get('ackedNotDurable')} acked records not durable, ` +
      `${report.get('lostAfterReopen')} lost after reopen, ${report.get('duplicates')} duplicated, ${report.get('reopenFailed')} reopens failed, ${report.get('verifyProblems')} verify problems`,
  )
}

async function countOps(name: string, workload: Workload, report: Report): Promise<number> {
  const dir = fs.mkdtempSync(path.join(scratch('memory'), 'count-'))
  let ops = 0
  setFaultInjector((op) => {
    if (COUNTED.has(op)) ops++
    return undefined
  })
  try {
    await workload(dir, report, { acked: new Map(), order: [] }, `${name} workload without faults`)
  } finally {
    setFaultInjector(undefined)
  }
  return ops
}

async function inject(name: string, workload: Workload, n: number, code: string, persistent: boolean, report: Report): Promise<void> {
  report.count('points')
  const base = scratch('memory')
  const dir = path.join(base, 'p')
  fs.mkdirSync(dir)
  const what = `${name} workload, ${code} ${persistent ? 'from' : 'at'} operation ${n}`
  const written: Written = { acked: new Map(), order: [] }
  untypedSeen = new Set()
  // The model follows the partition folder (the producer workload's partition is <root>/t/0).
  const modelled = name === 'partition' ? dir : path.join(dir, 't', '0')
  if (name === 'producer') fs.mkdirSync(modelled, { recursive: true })
  const model = new CrashModel(modelled)
  let ops = 0
  let hit = false
  setWriteRecorder(model.record)
  setFaultInjector((op, file) => {
    if (!COUNTED.has(op)) return undefined
    ops++
    if (ops === n || (persistent && ops > n)) {
      hit = true
      return errnoError(code, op, file)
    }
    return undefined
  })
  try {
    await workload(dir, report, written, what)
  } catch (err) {
    if (!isTypedError(err)) untyped(report, what, 'the workload', err)
  } finally {
    setFaultInjector(undefined)
    setWriteRecorder(undefined)
  }
  if (hit) report.count('faultsHit')
  // A power loss now: only what was fsync'd is there.
  const durable = path.join(base, 'durable')
  writeFolder(durable, model.crashState('durable', new Random(n)))
  await checkRecovered(durable, written, report, `${what}, then a power loss`, true)
  // The fault is gone: reopen the real folder.
  await checkRecovered(modelled, written, report, `${what}, reopened`, false)
  fs.rmSync(base, { recursive: true, force: true })
}

/** Open `dir` and check every acknowledged record is there, in send order, none twice. */
async function checkRecovered(dir: string, written: Written, report: Report, what: string, afterPowerLoss: boolean): Promise<void> {
  let p: Partition
  await collectMappings()
  try {
    p = await Partition.open(dir, OPTIONS)
  } catch (err) {
    // A power loss before the partition's first files were durable leaves nothing to open.
    if (afterPowerLoss && [...written.acked.values()].every((o) => o === undefined)) return
    report.count('reopenFailed')
    report.fail(`${what}: open threw ${describe(err)}`)
    return
  }
  const seen = new Map<string, number>()
  try {
    for (let next = p.logStartOffset; ; ) {
      const { records, nextOffset } = p.read({ from: next, maxBytes: 1 << 20 })
      for (const r of records) {
        const value = r.value?.toString() ?? ''
        if (seen.has(value)) {
          report.count('duplicates')
          report.fail(`${what}: ${value} is in the log twice (offsets ${String(seen.get(value))} and ${r.offset})`)
        }
        seen.set(value, r.offset)
        if (!written.acked.has(value)) report.fail(`${what}: offset ${r.offset} holds ${value.slice(0, 30)}, which was never sent`)
      }
      if (nextOffset <= next) break
      next = nextOffset
    }
    const start = p.logStartOffset
    for (const [value, offset] of written.acked) {
      if (offset === undefined || offset < start) continue
      const found = seen.get(value)
      if (found === offset) continue
      report.count(afterPowerLoss ? 'ackedNotDurable' : 'lostAfterReopen')
      report.fail(`${what}: ${value}, acknowledged at offset ${offset}, is ${found === undefined ? 'missing' : `at ${found}`} (log [${start}, ${p.logEndOffset}))`)
    }
    // Send order is log order.
    let last = -1
    for (const value of written.order) {
      const at = seen.get(value)
      if (at === undefined) continue
      if (at < last) report.fail(`${what}: ${value} at offset ${at} comes before a record sent earlier (offset ${last})`)
      last = Math.max(last, at)
    }
  } catch (err) {
    report.fail(`${what}: reading threw ${describe(err)}`)
  } finally {
    await p.close().catch((err: unknown) => report.fail(`${what}: close threw ${describe(err)}`))
  }
  const verified = await verifyHere([dir])
  if (!verified.ok) {
    report.count('verifyProblems')
    report.fail(`${what}: verify: ${problemsText(verified)}`)
  }
}

/**
 * Appends (sometimes four at once), rolls every few batches, retention, deleteRecordsBefore, a
 * flush, a clean close and reopen; a failed partition is closed and reopened, as an application
 * would, up to a few times.
 */
async function partitionWorkload(dir: string, report: Report, written: Written, what: string): Promise<void> {
  const random = new Random(42)
  let p: Partition | undefined
  let reopens = 0
  let failedAt: string | undefined
  const open = async (): Promise<Partition> => {
    failedAt = undefined
    await collectMappings()
    return Partition.open(dir, OPTIONS)
  }
  const handle = (err: unknown, action: string): void => {
    if (!isTypedError(err)) untyped(report, what, action, err)
    if (err instanceof SeglogError && err.code === 'ERR_STORAGE') failedAt ??= action
  }
  try {
    p = await open()
    for (let step = 0; step < 40; step++) {
      if (failedAt !== undefined || step === 20) {
        if (++reopens > 4) return
        await p.close().catch((err: unknown) => handle(err, 'close'))
        p = await open()
      }
      const partition = p
      const dice = random.next()
      if (dice < 0.1 && partition.durableOffset > partition.logStartOffset) {
        await partition.deleteRecordsBefore(partition.logStartOffset + 1).catch((err: unknown) => handle(err, 'deleteRecordsBefore'))
        continue
      }
      if (dice < 0.15) {
        const before = failedAt
        await partition.flush().then(
          () => {
            if (before !== undefined) report.fail(`${what}: flush resolved after ${before} failed`)
          },
          (err: unknown) => handle(err, 'flush'),
        )
        continue
      }
      const concurrent = dice < 0.4 ? 4 : 1
      await Promise.all(
        Array.from({ length: concurrent }, (_, c) => {
          const values = Array.from({ length: 1 + ((step + c) % 3) }, (_, i) => `p${step}.${c}.${i}.${'z'.repeat((step * 37 + c * 11) % 90)}`)
          for (const v of values) {
            written.acked.set(v, undefined)
            written.order.push(v)
          }
          const before = failedAt
          return partition.append(values.map((value) => ({ value }))).then(
            (r) => {
              if (before !== undefined) {
                report.count('ackedAfterFailure')
                report.fail(`${what}: an append was acknowledged after ${before} failed`)
              }
              values.forEach((v, i) => written.acked.set(v, r.baseOffset + i))
            },
            (err: unknown) => handle(err, 'append'),
          )
        }),
      )
    }
  } finally {
    await p?.close().catch((err: unknown) => handle(err, 'close'))
  }
}

/** An idempotent producer through Log on a one-partition topic: its resends after storage errors must not duplicate. */
async function producerWorkload(root: string, report: Report, written: Written, what: string): Promise<void> {
  const log = await Log.open(root)
  try {
    await log.createTopic('t', { partitions: 1, fsync: 'always', segmentBytes: 1024, retentionBytes: 4096 })
    const producer = log.producer({ retries: 3 })
    for (let step = 0; step < 25; step++) {
      const values = Array.from({ length: 1 + (step % 4) }, (_, i) => `q${step}.${i}.${'w'.repeat((step * 29) % 80)}`)
      for (const v of values) {
        written.acked.set(v, undefined)
        written.order.push(v)
      }
      const results = await Promise.allSettled(values.map((value) => producer.send('t', { value })))
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') written.acked.set(values[i] as string, r.value.offset)
        else if (!isTypedError(r.reason)) untyped(report, what, 'send', r.reason)
      })
    }
    await producer.close().catch(() => {})
  } finally {
    await log.close().catch((err: unknown) => {
      if (!isTypedError(err)) untyped(report, what, 'log.close', err)
    })
  }
}
