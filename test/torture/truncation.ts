/**
 * Scenario 3, truncation at every byte. A reference partition (several segments, indexes,
 * checkpoints, a producer snapshot, a clean-shutdown marker) and a reference consumer-offsets store
 * are built once; then each of their newest files is cut at every byte length, and the folder
 * opened — as left by a clean close, and with the clean-shutdown marker removed (after a crash):
 *
 * - open throws nothing but a typed `SeglogError` (and for a cut `.log`, nothing at all);
 * - every record wholly before the cut is there, unchanged (for a cut index, checkpoint or
 *   snapshot: every record); nothing else is;
 * - an idempotent producer's retry of the last batch is still answered as a duplicate;
 * - the committed offset is the last commit wholly before the cut (for other files: the last one);
 * - after a clean close `seglog verify` finds nothing.
 */
import fs from 'node:fs'
import path from 'node:path'
import { OffsetStore } from '../../src/consumer-offsets/index.js'
import { Partition, type PartitionOptions } from '../../src/partition/index.js'
import { collectMappings, describe, isTypedError, problemsText, Random, readFolder, removeScratch, Report, scratch, verifyHere, writeFolder, type Level, type Outcome } from './support.js'

const OPTIONS: PartitionOptions = { fsync: 'always', segmentBytes: 4096, indexIntervalBytes: 256, maxIndexBytes: 1024 }
const PRODUCER = { producerId: 7, producerEpoch: 0 }
/** Cut every Nth byte (plus the ends); 1 = every byte. */
const STRIDE: Record<Level, number> = { test: 97, quick: 7, full: 1 }

interface Reference {
  files: Map<string, Buffer>
  values: string[]
  logStartOffset: number
  /** Batches of the newest segment: end position (exclusive) and one past their last offset. */
  newestBatches: Array<{ end: number; nextOffset: number }>
  newestBase: number
  lastBatch: { records: string[]; baseSequence: number; baseOffset: number }
}

export async function truncation(level: Level, seed: number): Promise<Outcome> {
  const report = new Report('truncation', seed)
  const random = new Random(seed)
  const stride = STRIDE[level]
  try {
    const base = scratch('memory')
    const ref = await buildPartition(path.join(base, 'ref'), random)
    const store = await buildStore(path.join(base, 'store-ref'), random)
    const work = path.join(base, 'work')
    const newest = ref.newestBase.toString().padStart(20, '0')
    const targets = [`${newest}.log`, `${newest}.index`, `${newest}.timeindex`, 'log-start-offset', 'recovery-point', 'clean-shutdown']
    const snapshot = [...ref.files.keys()].filter((n) => n.endsWith('.snapshot')).sort().pop()
    if (snapshot !== undefined) targets.push(snapshot)
    for (const target of targets) {
      const size = ref.files.get(target)?.length
      if (size === undefined) {
        report.fail(`the reference partition has no ${target}`)
        continue
      }
      for (const clean of target === 'clean-shutdown' ? [true] : [true, false]) {
        for (const cut of cuts(size, stride)) await cutPartition(ref, work, target, cut, clean, report)
      }
    }
    const storeTargets = [...store.files.keys()].filter((n) => n === `${store.newest}.log` || n === `${store.newest}.index` || n === `${store.newest}.timeindex` || !/^\d{20}\./.test(n))
    for (const target of storeTargets) {
      if (target === '.lock' || target === 'durable-offset') continue
      const size = (store.files.get(target) as Buffer).length
      for (const clean of target === 'clean-shutdown' ? [true] : [true, false]) {
        for (const cut of cuts(size, stride)) await cutStore(store, path.join(base, 'store-work'), target, cut, clean, report)
      }
    }
  } catch (err) {
    report.fail(`the scenario threw ${describe(err)} (seed ${seed})`)
  } finally {
    removeScratch()
  }
  return report.done(
    `${report.get('cuts')} cuts of ${report.get('files')} files (partition and consumer offsets, clean and crashed), ${report.get('lost')} records lost before the cut, ` +
      `${report.get('changed')} changed, ${report.get('untyped')} untyped errors, ${report.get('typedErrors')} typed errors, ${report.get('committedWrong')} wrong committed offsets, ` +
      `${report.get('dedupLost')} dedup lost, ${report.get('verifyProblems')} verify problems`,
  )
}

function cuts(size: number, stride: number): number[] {
  const out = new Set<number>()
  for (let c = 0; c < size; c += stride) out.add(c)
  for (const c of [0, 1, size - 1, size - 2]) if (c >= 0 && c < size) out.add(c)
  return [...out].sort((a, b) => a - b)
}

async function buildPartition(dir: string, random: Random): Promise<Reference> {
  const p = await Partition.open(dir, OPTIONS)
  const values: string[] = []
  let sequence = 0
  let lastBatch: Reference['lastBatch'] = { records: [], baseSequence: 0, baseOffset: 0 }
  while (p.segmentCount < 4 || p.segments().at(-1)!.sizeBytes < 3000) {
    const count = random.int(1, 5)
    const records = Array.from({ length: count }, (_, i) => `r${values.length + i}.${random.bytes(random.int(0, 60)).toString('hex')}`)
    const r = await p.append(records.map((value, i) => ({ key: `k${i}`, value })), { ...PRODUCER, baseSequence: sequence })
    lastBatch = { records, baseSequence: sequence, baseOffset: r.baseOffset }
    sequence += count
    values.push(...records)
  }
  await p.deleteRecordsBefore(5)
  const newestBase = p.segments().at(-1)!.baseOffset
  await p.close()
  const files = readFolder(dir)
  const log = files.get(`${newestBase.toString().padStart(20, '0')}.log`) as Buffer
  const newestBatches: Reference['newestBatches'] = []
  for (let at = 0; at + 61 <= log.length; ) {
    const size = log.readInt32BE(at + 8) + 12
    const base = Number(log.readBigInt64BE(at))
    newestBatches.push({ end: at + size, nextOffset: base + log.readInt32BE(at + 23) + 1 })
    at += size
  }
  return { files, values, logStartOffset: 5, newestBatches, newestBase, lastBatch }
}

async function cutPartition(ref: Reference, work: string, target: string, cut: number, clean: boolean, report: Report): Promise<void> {
  report.count('cuts')
  if (cut === 0 && clean) report.count('files')
  const files = new Map(ref.files)
  if (!clean) files.delete('clean-shutdown')
  files.set(target, (ref.files.get(target) as Buffer).subarray(0, cut))
  writeFolder(work, files)
  const what = `partition ${target} cut at ${cut} of ${(ref.files.get(target) as Buffer).length}${clean ? '' : ', no clean-shutdown marker'} (seed ${report.seed})`
  // Everything below this must be there.
  let keep = ref.values.length
  if (target.endsWith('.log')) {
    keep = ref.newestBase
    for (const b of ref.newestBatches) if (b.end <= cut) keep = b.nextOffset
  }
  let p: Partition
  await collectMappings()
  try {
    p = await Partition.open(work, OPTIONS)
  } catch (err) {
    if (!isTypedError(err)) {
      report.count('untyped')
      report.fail(`${what}: open threw an untyped ${describe(err)}`)
    } else {
      report.count('typedErrors')
      report.fail(`${what}: open refused with ${describe(err)}; nothing before the cut is damaged`)
    }
    return
  }
  try {
    const start = p.logStartOffset
    report.check(start <= ref.logStartOffset, () => `${what}: log start offset ${start}, expected ${ref.logStartOffset}`)
    let expected = start
    for (let next = start; ; ) {
      const { records, nextOffset } = p.read({ from: next, maxBytes: 1 << 20 })
      for (const r of records) {
        if (r.offset !== expected || r.value?.toString() !== ref.values[r.offset]) {
          report.count('changed')
          report.fail(`${what}: offset ${r.offset} (expected ${expected}) holds ${String(r.value?.toString()).slice(0, 20)}`)
        }
        expected = r.offset + 1
      }
      if (nextOffset <= next) break
      next = nextOffset
    }
    if (expected < keep) {
      report.count('lost', keep - expected)
      report.fail(`${what}: the log ends at ${expected}, records up to ${keep - 1} were wholly before the cut`)
    }
    // The producer's retry of its last batch is recognised, unless the cut took that batch.
    if (expected === ref.values.length) {
      const last = ref.lastBatch
      const r = await p.append(last.records.map((value, i) => ({ key: `k${i}`, value })), { ...PRODUCER, baseSequence: last.baseSequence })
      if (r.duplicate !== true || r.baseOffset !== last.baseOffset) {
        report.count('dedupLost')
        report.fail(`${what}: the retry of the last batch was appended again at ${r.baseOffset}, not answered as a duplicate of ${last.baseOffset}`)
      }
    }
  } catch (err) {
    report.fail(`${what}: reading threw ${describe(err)}`)
  } finally {
    await p.close().catch((err: unknown) => report.fail(`${what}: close threw ${describe(err)}`))
  }
  const verified = await verifyHere([work])
  if (!verified.ok) {
    report.count('verifyProblems')
    report.fail(`${what}: verify after reopen: ${problemsText(verified)}`)
  }
}

interface StoreReference {
  root: string
  files: Map<string, Buffer>
  newest: string
  /** Committed offset after each commit record, with the end position of its batch in the newest segment. */
  commits: Array<{ end: number; offset: number }>
  lastBefore: number
}

async function buildStore(root: string, random: Random): Promise<StoreReference & { dir: string }> {
  const store = await OffsetStore.open(root, 'g', 't', 0)
  let offset = 0
  for (let i = 0; i < 60; i++) {
    offset += random.int(1, 1000)
    await store.commit(offset, random.chance(0.3) ? `meta-${i}` : '')
  }
  await store.close()
  const dir = store.dir
  const files = readFolder(dir)
  const newest = [...files.keys()].filter((n) => n.endsWith('.log')).sort().pop()!.slice(0, 20)
  const log = files.get(`${newest}.log`) as Buffer
  const commits: StoreReference['commits'] = []
  // Each batch holds one commit record; its value is JSON with the offset.
  for (let at = 0; at + 61 <= log.length; ) {
    const size = log.readInt32BE(at + 8) + 12
    const text = log.subarray(at, at + size).toString('latin1')
    const m = /\{"offset":(\d+)/.exec(text)
    commits.push({ end: at + size, offset: m === null ? -1 : Number(m[1]) })
    at += size
  }
  return { root, dir, files, newest, commits, lastBefore: 0 }
}

async function cutStore(ref: StoreReference & { dir: string }, workRoot: string, target: string, cut: number, clean: boolean, report: Report): Promise<void> {
  report.count('cuts')
  if (cut === 0 && clean) report.count('files')
  const files = new Map(ref.files)
  if (!clean) files.delete('clean-shutdown')
  files.set(target, (ref.files.get(target) as Buffer).subarray(0, cut))
  const dir = path.join(workRoot, path.relative(ref.root, ref.dir))
  writeFolder(dir, files)
  const what = `consumer offsets ${target} cut at ${cut} of ${(ref.files.get(target) as Buffer).length}${clean ? '' : ', no clean-shutdown marker'} (seed ${report.seed})`
  const last = ref.commits.at(-1)?.offset ?? -1
  let want = last
  if (target === `${ref.newest}.log`) {
    want = -1
    for (const c of ref.commits) if (c.end <= cut) want = c.offset
  }
  let store: OffsetStore
  await collectMappings()
  try {
    store = await OffsetStore.open(workRoot, 'g', 't', 0)
  } catch (err) {
    if (!isTypedError(err)) report.count('untyped')
    else report.count('typedErrors')
    report.fail(`${what}: open threw ${describe(err)}`)
    return
  }
  try {
    const committed = store.committed()?.offset ?? -1
    // A cut through the newest segment's first batch leaves the previous segment's last commit.
    const older = [...ref.files.keys()].some((n) => n.endsWith('.log') && n !== `${ref.newest}.log`)
    const ok = want === -1 && older ? committed < (ref.commits[0]?.offset ?? 0) : committed === want
    if (!ok) {
      report.count('committedWrong')
      report.fail(`${what}: committed offset ${committed}, expected ${want === -1 ? `at most ${last}` : want}`)
    }
  } finally {
    await store.close().catch((err: unknown) => report.fail(`${what}: close threw ${describe(err)}`))
  }
  const verified = await verifyHere([dir])
  if (!verified.ok) {
    report.count('verifyProblems')
    report.fail(`${what}: verify after reopen: ${problemsText(verified)}`)
  }
  fs.rmSync(workRoot, { recursive: true, force: true })
}
