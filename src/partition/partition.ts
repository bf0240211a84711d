/**
 * A partition: an ordered list of segments with one writer, durable appends, reads by offset and
 * timestamp, tailing, retention, and recovery on open.
 *
 * Files (see DESIGN.md): `<20-digit base offset>.log/.index/.timeindex` per segment, the
 * checkpoints of checkpoints.ts, and `.lock`, flock'd by the writer while it is open.
 *
 * Offsets below the *durable offset* are on disk per the fsync policy; readers never see past it.
 * Under `fsync: 'always'` it advances when a group-commit fdatasync completes; under the other
 * policies it advances as soon as a batch is written to the OS.
 */
import { EventEmitter } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { ClosedError, CorruptRecordError, LockedError, OffsetOutOfRangeError, StorageError, storageErrorOf } from '../errors.js'
import * as io from '../file-io.js'
import {
  BATCH_HEADER_BYTES,
  checkBatch,
  decodeRecords,
  encodeBatch,
  isControlBatch,
  lastOffsetOf,
  allowGaps,
  parseSegmentName,
  scanBatches,
  Segment,
  setBaseOffset,
  type BatchHeader,
  type GapRule,
  type LogRecord,
  type RecordInput,
  type SegmentOptions,
} from '../segment/index.js'
import {
  CLEAN_SHUTDOWN_FILE,
  DURABLE_OFFSET_FILE,
  LOCK_FILE,
  LOG_START_OFFSET_FILE,
  readCheckpoint,
  RECOVERY_POINT_FILE,
  CLEANER_OFFSET_FILE,
  writeCheckpoint,
} from './checkpoints.js'
import { GroupCommit } from './group-commit.js'
import { gapRegistry } from './offset-gaps.js'
import { clean, completeInterruptedSwaps, type CleanResult } from './cleaner.js'
import { hashes } from '../hash.js'
import { AppendDedup, type MsgIdCheck } from './append-dedup.js'
import { deleteSnapshotsAfter, readLatestSnapshot, writeSnapshot } from './producer-snapshot.js'
import { ProducerStateTable } from './producer-state.js'
import { resolveOptions, type PartitionOptions, type ResolvedOptions } from './options.js'
import { emptyReport, recoverSegments, type RecoveryReport } from './recovery.js'

export interface AppendResult {
  baseOffset: number
  lastOffset: number
  /**
   * The offset of each record given, present only when some were answered from the message-id
   * dedup window (then they are not `baseOffset + i`).
   */
  offsets?: number[]
  /** The whole batch was an idempotent producer's retry: nothing was appended. */
  duplicate?: boolean
}

/** Producer fields written into the batch header (idempotent producers). */
export interface AppendOptions {
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
}

export interface ReadOptions {
  /** First offset wanted. */
  from: number
  /** Read about this many bytes (at least one whole batch). Default 1 MiB. */
  maxBytes?: number
}

export interface ReadResult {
  records: LogRecord[]
  /** Where the next read should start. */
  nextOffset: number
}

export interface RecordsOptions {
  /** First offset; default the log start offset. */
  from?: number
  /** Keep waiting for new records at the end instead of finishing. */
  follow?: boolean
  /** Ends a waiting iteration with an AbortError. */
  signal?: AbortSignal
  /** Bytes per read. Default 1 MiB. */
  maxBytes?: number
}

/** Where the durable (reader-visible) part of the log ends. */
interface DurableMark {
  offset: number
  segment: Segment
  position: number
  /** Bytes written in this process up to the mark (for the unsynced-bytes limit). */
  writtenBytes: number
}

const READ_BYTES_DEFAULT = 1024 * 1024
const OFFSET_BYTES = 8

/**
 * A durable, single-writer partition log.
 *
 * @example
 * ```ts
 * const p = await Partition.open('./data/orders/0')
 * const { baseOffset } = await p.append([{ key: 'k', value: 'hello' }])
 * for await (const r of p.records({ from: 0 })) console.log(r.offset, r.value?.toString())
 * await p.close()
 * ```
 */
export class Partition extends EventEmitter {
  readonly dir: string
  readonly readOnly: boolean
  /** What recovery did when this partition was opened. */
  readonly recovery: RecoveryReport
  #options: ResolvedOptions
  #segments: Segment[]
  #lockFd: number | undefined
  #logStartOffset: number
  #logEndOffset: number
  #visible: DurableMark
  #commit: GroupCommit<DurableMark> | undefined
  #durableFd: number | undefined
  #writtenBytes = 0
  #syncedBytes = 0
  #reservedBytes = 0
  #turns: Array<{ bytes: number; resolve: () => void; reject: (err: Error) => void }> = []
  #pending = new Set<Promise<unknown>>()
  #failure: StorageError | undefined
  #closed = false
  #dataWaiters = new Set<() => void>()
  #timers: NodeJS.Timeout[] = []
  #dedup: AppendDedup | undefined
  #hashes: Awaited<ReturnType<typeof hashes>> | undefined
  #compacting: Promise<CleanResult> | undefined
  /** Where the last read ended, so a sequential reader skips the index lookup and header scan. */
  #cursor: { segment: Segment; offset: number; position: number } | undefined
  /** Which gaps between batches are legitimate here (see offset-gaps.ts). */
  #gaps: GapRule = allowGaps

  private constructor(
    dir: string,
    readOnly: boolean,
    options: ResolvedOptions,
    segments: Segment[],
    lockFd: number | undefined,
    logStartOffset: number,
    recovery: RecoveryReport,
  ) {
    super()
    this.dir = dir
    this.readOnly = readOnly
    this.#options = options
    this.#segments = segments
    this.#lockFd = lockFd
    this.recovery = recovery
    const active = this.#active
    this.#logEndOffset = active.nextOffset()
    this.#logStartOffset = Math.min(Math.max(logStartOffset, (segments[0] as Segment).baseOffset), this.#logEndOffset)
    this.#visible = { offset: this.#logEndOffset, segment: active, position: active.size, writtenBytes: 0 }
  }

  /** The end of what was written so far. */
  #endMark(): DurableMark {
    const active = this.#active
    return { offset: this.#logEndOffset, segment: active, position: active.size, writtenBytes: this.#writtenBytes }
  }

  /**
   * Open (creating if missing) the partition in `dir` for writing. Takes an exclusive flock on
   * `dir/.lock`: a second writer, in this process or another, gets `ERR_LOCKED` at once.
   * Recovers from an unclean shutdown (see recovery.ts) and reports it in `recovery`.
   */
  static async open(dir: string, options: PartitionOptions = {}): Promise<Partition> {
    const o = resolveOptions(options)
    let lockFd: number
    try {
      io.mkdir(dir, o.dirMode)
      refuseSymlink(dir)
      lockFd = takeLock(dir, o.fileMode)
    } catch (err) {
      throw storageErrorOf(err, `Cannot open partition ${dir}`)
    }
    const segments: Segment[] = []
    try {
      cleanLeftovers(dir)
      completeInterruptedSwaps(dir)
      const clean = !o.fullRecovery && fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE))
      const report = emptyReport(clean)
      const checkpointed = readCheckpoint(dir, LOG_START_OFFSET_FILE)
      const logStartOffset = checkpointed === undefined || Number.isNaN(checkpointed) ? 0 : checkpointed
      const checkpointedRecoveryPoint = readCheckpoint(dir, RECOVERY_POINT_FILE)
      const recoveryPoint = clean ? Infinity : o.fullRecovery || checkpointedRecoveryPoint === undefined || Number.isNaN(checkpointedRecoveryPoint) ? 0 : checkpointedRecoveryPoint
      const bases = listSegmentBases(dir)
      const segmentOptions = (writable: boolean): SegmentOptions => ({ ...segmentOptionsOf(o), writable })
      if (bases.length === 0) {
        segments.push(Segment.create(dir, logStartOffset, segmentOptions(true)))
        io.fsyncDir(dir)
      } else {
        const last = bases.length - 1
        bases.forEach((base, i) => segments.push(Segment.open(dir, base, segmentOptions(i === last || !(base < recoveryPoint)))))
      }
      const registry = gapRegistry(dir, o.cleanupPolicy !== 'delete' || fs.existsSync(path.join(dir, CLEANER_OFFSET_FILE)), o.fileMode)
      recover(segments, recoveryPoint, o, report, registry)
      const partition = new Partition(dir, false, o, segments, lockFd, logStartOffset, report)
      partition.#gaps = registry.gaps
      partition.#hashes = await hashes()
      partition.#loadDedup(partition.#hashes)
      partition.#startWriting(recoveryPoint)
      setImmediate(() => partition.emit('recovery', report))
      return partition
    } catch (err) {
      // Release everything even when closing fails too (a segment's close trims its indexes): a
      // lock left held would refuse every later open in this process with ERR_LOCKED.
      for (const s of segments) {
        try {
          s.close()
        } catch {
          // The error that made the open fail is the one reported.
        }
      }
      io.close(lockFd)
      throw storageErrorOf(err, `Cannot open partition ${dir}`)
    }
  }

  /**
   * Open the partition in `dir` for reading only: no lock, no recovery, nothing written. It may
   * run beside a writer in another process; it sees batches up to the writer's durable offset
   * (or, without a writer's published offset, up to the last whole, CRC-valid batch).
   */
  static async openReadOnly(dir: string, options: PartitionOptions = {}): Promise<Partition> {
    const o = resolveOptions(options)
    refuseSymlink(dir)
    const bases = listSegmentBases(dir)
    if (bases.length === 0) throw new StorageError(`Cannot open partition ${dir} for reading: it has no segments`, { file: dir })
    const segments: Segment[] = []
    try {
      for (const base of bases) segments.push(Segment.open(dir, base, { ...segmentOptionsOf(o), writable: false, repairIndexes: false }))
      const checkpointed = readCheckpoint(dir, LOG_START_OFFSET_FILE)
      const logStartOffset = checkpointed === undefined || Number.isNaN(checkpointed) ? 0 : checkpointed
      const partition = new Partition(dir, true, o, segments, undefined, logStartOffset, emptyReport(false))
      partition.#gaps = gapRegistry(dir, o.cleanupPolicy !== 'delete' || fs.existsSync(path.join(dir, CLEANER_OFFSET_FILE)), o.fileMode).gaps
      partition.#refresh()
      return partition
    } catch (err) {
      for (const s of segments) s.close()
      throw err
    }
  }

  /**
   * Run recovery on the partition in `dir` as `seglog recover` does: every segment validated,
   * torn tails cut, damaged ranges dropped with the valid batches after them kept (`repair`),
   * indexes rebuilt. With `dryRun`, nothing is locked or changed and the report says what
   * recovery would do.
   */
  static async recover(dir: string, options: PartitionOptions & { dryRun?: boolean } = {}): Promise<RecoveryReport> {
    const { dryRun, ...rest } = options
    if (dryRun !== true) {
      const partition = await Partition.open(dir, { ...rest, repair: true, fullRecovery: true })
      await partition.close()
      return partition.recovery
    }
    const o = resolveOptions(rest)
    refuseSymlink(dir)
    const segments = listSegmentBases(dir).map((base) => Segment.open(dir, base, { ...segmentOptionsOf(o), writable: false, repairIndexes: false }))
    try {
      const report = emptyReport(false)
      const { gaps } = gapRegistry(dir, o.cleanupPolicy !== 'delete', o.fileMode)
      recoverSegments(segments, 0, { maxBatchBytes: o.maxBatchBytes, maxUnsyncedBytes: o.maxUnsyncedBytes, repair: true, gaps }, report, false)
      return report
    } finally {
      for (const s of segments) s.close()
    }
  }

  /** First readable offset. */
  get logStartOffset(): number {
    return this.#logStartOffset
  }
  /** Next offset to be assigned (for a reader: one past the last whole batch it has seen). */
  get logEndOffset(): number {
    return this.#logEndOffset
  }
  /** Everything below this is durable per the fsync policy and visible to readers. */
  get durableOffset(): number {
    return this.#visible.offset
  }
  get segmentCount(): number {
    return this.#segments.length
  }
  /** Bytes of all `.log` files. */
  get sizeBytes(): number {
    return this.#segments.reduce((sum, s) => sum + s.size, 0)
  }
  /** Base offset, file and size of every segment, oldest first. */
  segments(): Array<{ baseOffset: number; file: string; sizeBytes: number }> {
    return this.#segments.map((s) => ({ baseOffset: s.baseOffset, file: s.file, sizeBytes: s.size }))
  }

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1] as Segment
  }

  /**
   * Append `records` as one batch: one write and, under `fsync: 'always'`, at most one (shared)
   * fdatasync before it resolves. Offsets are assigned in call order.
   */
  append(records: readonly RecordInput[], options: AppendOptions = {}): Promise<AppendResult> {
    const promise = this.#append(records, options)
    this.#pending.add(promise)
    const forget = (): void => void this.#pending.delete(promise)
    promise.then(forget, forget)
    return promise
  }

  async #append(records: readonly RecordInput[], options: AppendOptions): Promise<AppendResult> {
    this.#checkWritable()
    const o = this.#options
    const now = Date.now()
    const encodeOptions = {
      maxRecordBytes: o.maxRecordBytes,
      maxBatchBytes: o.maxBatchBytes,
      compression: o.compression,
      now,
      ...options,
    }
    if (o.cleanupPolicy !== 'delete') {
      const keyless = records.findIndex((r) => r === null || typeof r !== 'object' || r.key === null || r.key === undefined)
      if (keyless >= 0) {
        throw new TypeError(`Cannot append to ${this.dir}: record ${keyless} has no key, and a compacted partition keeps the newest record per key`)
      }
    }
    let batch = encodeBatch(records, encodeOptions)
    if (this.#turns.length > 0 || this.#mustWait(batch.length)) {
      await new Promise<void>((resolve, reject) => this.#turns.push({ bytes: batch.length, resolve, reject }))
      this.#reservedBytes -= batch.length
      this.#checkWritable()
    }
    // From here to the write nothing awaits, so appends are checked and written in call order.
    const dedup = this.#dedup as AppendDedup
    const producer =
      options.producerId !== undefined && options.producerId >= 0 && (options.baseSequence ?? -1) >= 0
        ? { producerId: options.producerId, epoch: options.producerEpoch ?? 0, baseSequence: options.baseSequence as number }
        : undefined
    if (producer !== undefined) {
      const check = dedup.checkSequence(producer.producerId, producer.epoch, producer.baseSequence, records.length)
      if (check.kind === 'duplicate') {
        await this.#waitDurable(check.batch.lastOffset + 1)
        return { baseOffset: check.batch.baseOffset, lastOffset: check.batch.lastOffset, duplicate: true }
      }
    }
    const msgIds = dedup.checkMsgIds(records, now)
    if (msgIds !== undefined && msgIds.duplicates.size > 0) {
      if (msgIds.duplicates.size === records.length) {
        const offsets = [...msgIds.duplicates.values()]
        await this.#waitDurable(Math.max(...offsets) + 1)
        return { baseOffset: Math.min(...offsets), lastOffset: Math.max(...offsets), offsets, duplicate: true }
      }
      batch = encodeBatch(records, { ...encodeOptions, skip: new Set(msgIds.duplicates.keys()) })
    }
    const count = batch.readInt32BE(23) + 1
    const baseOffset = this.#logEndOffset
    const lastOffset = baseOffset + count - 1
    if (lastOffset > Number.MAX_SAFE_INTEGER) throw new RangeError(`Cannot append: offset ${lastOffset} exceeds Number.MAX_SAFE_INTEGER`)
    try {
      this.#maybeRoll(batch.length, lastOffset)
      setBaseOffset(batch, baseOffset)
      this.#active.append(batch, { baseOffset, lastOffset, maxTimestamp: batch.readInt32BE(35) * 0x1_0000_0000 + batch.readUInt32BE(39) })
    } catch (err) {
      throw this.#fail(err, 'write')
    }
    this.#logEndOffset = lastOffset + 1
    this.#writtenBytes += batch.length
    dedup.recordAppend(producer, baseOffset, lastOffset, msgIds, records.map((r) => r.timestamp ?? now))
    this.#releaseTurns()
    await this.#waitDurable(lastOffset + 1)
    const result: AppendResult = { baseOffset, lastOffset }
    if (msgIds !== undefined && msgIds.duplicates.size > 0) result.offsets = offsetsOf(records.length, baseOffset, msgIds)
    return result
  }

  /** Resolve once `offset - 1` is durable per the fsync policy (and visible to readers). */
  async #waitDurable(offset: number): Promise<void> {
    if (this.#commit !== undefined) {
      await this.#commit.waitFor(offset)
    } else if (this.#visible.offset < offset) {
      this.#setVisible(this.#endMark())
    }
  }

  /** Producer state from the newest snapshot plus the batches after it; the msg-id window from its records. */
  #loadDedup(hashing: Awaited<ReturnType<typeof hashes>>): void {
    const leo = this.#logEndOffset
    deleteSnapshotsAfter(this.dir, leo)
    const snapshot = readLatestSnapshot(this.dir, leo)
    const from = Math.max(snapshot?.offset ?? 0, (this.#segments[0] as Segment).baseOffset)
    const dedup = new AppendDedup(hashing, snapshot?.table ?? new ProducerStateTable(), this.#options.dedupWindowMs)
    this.#forEachBatch(from, (header) => dedup.observeProducerBatch(header))
    if (dedup.window !== undefined) {
      const now = Date.now()
      const since = now - dedup.window.windowMs
      const first = this.#segments.find((seg) => seg === this.#active || seg.maxTimestamp >= since) as Segment
      this.#forEachBatch(first.baseOffset, (header, buffer, at, file, position) => {
        if (header.maxTimestamp < since) return
        dedup.observeRecords(decodeRecords(buffer, at, header, { file, position, maxBatchBytes: this.#options.maxBatchBytes }), now)
      })
    }
    this.#dedup = dedup
  }

  /** Every valid batch from the one holding `offset` to the log end offset. */
  #forEachBatch(offset: number, visit: (header: BatchHeader, buffer: Buffer, at: number, file: string, position: number) => void): void {
    for (let i = this.#segmentIndexOf(offset); i < this.#segments.length; i++) {
      const segment = this.#segments[i] as Segment
      const start = i === this.#segmentIndexOf(offset) ? (segment.locate(offset)?.position ?? segment.size) : 0
      for (const step of scanBatches(segment.fd, { from: start, end: segment.size, maxBatchBytes: this.#options.maxBatchBytes })) {
        if (step.kind === 'invalid') break
        visit(step.header, step.buffer, step.at, segment.file, step.position)
      }
    }
  }

  #checkWritable(): void {
    if (this.readOnly) throw new StorageError(`Cannot append to ${this.dir}: the partition was opened read-only`)
    if (this.#closed) throw new ClosedError(`Cannot append to ${this.dir}: the partition is closed`)
    if (this.#failure !== undefined) throw this.#failure
  }

  #mustWait(bytes: number): boolean {
    if (this.#options.fsync !== 'always') return false
    const unsynced = this.#writtenBytes - this.#syncedBytes + this.#reservedBytes
    return unsynced > 0 && unsynced + bytes > this.#options.maxUnsyncedBytes
  }

  #releaseTurns(): void {
    while (this.#turns.length > 0) {
      const next = this.#turns[0] as { bytes: number; resolve: () => void }
      if (this.#mustWait(next.bytes)) return
      this.#turns.shift()
      this.#reservedBytes += next.bytes
      next.resolve()
    }
  }

  #maybeRoll(batchBytes: number, lastOffset: number): void {
    const active = this.#active
    if (active.size === 0) return
    const o = this.#options
    if (
      active.size + batchBytes > o.segmentBytes ||
      Date.now() - active.createdMs >= o.segmentMs ||
      active.indexFull ||
      lastOffset - active.baseOffset > 0xffff_ffff
    ) {
      this.#roll()
    }
  }

  /** Seal the active segment (fsync, trim indexes) and start a new one at the log end offset. */
  #roll(): void {
    const old = this.#active
    old.seal()
    this.#syncedBytes = this.#writtenBytes
    const mark = this.#endMark()
    if (this.#commit !== undefined) this.#commit.covered(mark)
    else this.#setVisible(mark)
    const segment = Segment.create(this.dir, this.#logEndOffset, { ...segmentOptionsOf(this.#options), writable: true })
    this.#segments.push(segment)
    io.fsyncDir(this.dir)
    if (this.#dedup !== undefined) writeSnapshot(this.dir, segment.baseOffset, this.#dedup.producers, this.#options.fileMode)
    writeCheckpoint(this.dir, RECOVERY_POINT_FILE, segment.baseOffset, this.#options.fileMode)
    this.#scheduleRetention()
  }

  /** Make a write or fsync failure sticky: every pending and later append fails with it. */
  #fail(cause: unknown, what: string): StorageError {
    if (this.#failure !== undefined) return this.#failure
    const err =
      cause instanceof StorageError
        ? cause
        : new StorageError(
            `Cannot ${what} ${this.#active.file}: ${(cause as Error).message}; the partition refuses appends until it is closed and opened again`,
            { file: this.#active.file, cause },
          )
    this.#failure = err
    this.#commit?.fail(err)
    const turns = this.#turns
    this.#turns = []
    for (const t of turns) t.reject(err)
    return err
  }

  #setVisible(mark: DurableMark): void {
    this.#visible = mark
    if (this.#durableFd !== undefined) {
      const buf = Buffer.allocUnsafe(OFFSET_BYTES)
      buf.writeBigInt64BE(BigInt(mark.offset))
      try {
        io.pwriteFully(this.#durableFd, buf, 0, OFFSET_BYTES, 0)
      } catch (err) {
        this.#fail(err, 'publish the durable offset to')
      }
    }
    this.#wake()
  }

  #wake(): void {
    const waiters = [...this.#dataWaiters]
    this.#dataWaiters.clear()
    for (const w of waiters) w()
  }

  /** After open: durable marker handling, timers, checkpoints. */
  #startWriting(recoveryPoint: number): void {
    const o = this.#options
    const active = this.#active
    // Whatever a crashed process left in the page cache is made durable before it is trusted.
    io.fdatasyncSync(active.fd)
    if (this.#logStartOffset > this.#logEndOffset) this.#logEndOffset = this.#logStartOffset
    io.unlinkIfExists(path.join(this.dir, CLEAN_SHUTDOWN_FILE))
    if (o.fsync === 'always') {
      this.#durableFd = io.open(path.join(this.dir, DURABLE_OFFSET_FILE), fs.constants.O_RDWR | fs.constants.O_CREAT, o.fileMode)
      this.#commit = new GroupCommit<DurableMark>({
        durableOffset: this.#logEndOffset,
        capture: () => this.#endMark(),
        sync: (mark) => (mark.segment.writable ? mark.segment.flush() : Promise.resolve()),
        onDurable: (mark) => {
          this.#syncedBytes = Math.max(this.#syncedBytes, mark.writtenBytes)
          this.#setVisible(mark)
          this.#releaseTurns()
        },
        onFailure: (err) => this.#fail(err, 'fsync'),
      })
    } else {
      io.unlinkIfExists(path.join(this.dir, DURABLE_OFFSET_FILE))
    }
    io.fsyncDir(this.dir)
    this.#setVisible(this.#endMark())
    if (recoveryPoint !== active.baseOffset) writeCheckpoint(this.dir, RECOVERY_POINT_FILE, active.baseOffset, o.fileMode)
    if (typeof o.fsync === 'object') {
      const timer = setInterval(() => void this.flush().catch(() => {}), o.fsync.intervalMs)
      timer.unref()
      this.#timers.push(timer)
    }
    if (o.cleanupPolicy !== 'delete') {
      const timer = setInterval(() => {
        if (this.#compacting === undefined && this.#failure === undefined && this.dirtyRatio() >= o.minCleanableDirtyRatio) {
          this.compact(false).catch((err: unknown) => this.emit('compaction-error', err))
        }
      }, o.compactionCheckIntervalMs)
      timer.unref()
      this.#timers.push(timer)
    }
    if (Number.isFinite(o.retentionMs)) {
      const timer = setInterval(() => this.#scheduleRetention(), o.retentionCheckIntervalMs)
      timer.unref()
      this.#timers.push(timer)
    }
    this.#applyRetention()
  }

  /** fdatasync everything written so far (any fsync policy). */
  async flush(): Promise<void> {
    this.#checkWritable()
    const active = this.#active
    const written = this.#writtenBytes
    if (this.#commit !== undefined) {
      await this.#commit.waitFor(this.#logEndOffset)
      return
    }
    if (this.#syncedBytes >= written) return
    try {
      await active.flush()
    } catch (err) {
      throw this.#fail(err, 'fsync')
    }
    this.#syncedBytes = Math.max(this.#syncedBytes, written)
  }

  #scheduleRetention(): void {
    // Retention closes files; let a running fsync on them finish first.
    setImmediate(() => {
      const idle = this.#commit?.idle() ?? Promise.resolve()
      void idle.then(() => {
        if (!this.#closed && this.#failure === undefined) this.#applyRetention()
      })
    })
  }

  /**
   * Delete the oldest sealed segments that retention (`retentionBytes`, `retentionMs`) or the log
   * start offset no longer needs. The active segment is never deleted. Returns how many went.
   */
  #applyRetention(): number {
    const o = this.#options
    const now = Date.now()
    let total = this.sizeBytes
    let doomed = 0
    let logStartOffset = this.#logStartOffset
    while (doomed < this.#segments.length - 1) {
      const segment = this.#segments[doomed] as Segment
      const next = this.#segments[doomed + 1] as Segment
      // Compaction rewrites sealed segments: retention waits for it (it runs again after).
      if (this.#compacting !== undefined) break
      const deletes = o.cleanupPolicy !== 'compact'
      const bySize = deletes && total - segment.size >= o.retentionBytes
      const byTime = deletes && Number.isFinite(o.retentionMs) && segment.maxTimestamp >= 0 && now - segment.maxTimestamp > o.retentionMs
      const byStart = next.baseOffset <= logStartOffset
      if (!bySize && !byTime && !byStart) break
      total -= segment.size
      logStartOffset = Math.max(logStartOffset, next.baseOffset)
      doomed++
    }
    if (doomed === 0) return 0
    try {
      if (logStartOffset !== this.#logStartOffset) writeCheckpoint(this.dir, LOG_START_OFFSET_FILE, logStartOffset, o.fileMode)
      this.#logStartOffset = logStartOffset
      for (const segment of this.#segments.splice(0, doomed)) segment.deleteFiles()
      io.fsyncDir(this.dir)
    } catch (err) {
      this.#fail(err, 'apply retention to')
    }
    this.emit('retention', { segmentsDeleted: doomed, logStartOffset })
    return doomed
  }

  /**
   * Move the log start offset to `offset` (Kafka's deleteRecords): reads below it fail with
   * `ERR_OFFSET_OUT_OF_RANGE`, and sealed segments wholly below it are deleted.
   */
  async deleteRecordsBefore(offset: number): Promise<void> {
    this.#checkWritable()
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`Invalid offset ${offset}`)
    if (offset > this.durableOffset) {
      throw new OffsetOutOfRangeError(`Cannot delete records before ${offset}: the durable offset is ${this.durableOffset}`)
    }
    if (offset <= this.#logStartOffset) return
    try {
      writeCheckpoint(this.dir, LOG_START_OFFSET_FILE, offset, this.#options.fileMode)
    } catch (err) {
      throw this.#fail(err, 'checkpoint the log start offset of')
    }
    this.#logStartOffset = offset
    await (this.#commit?.idle() ?? Promise.resolve())
    this.#applyRetention()
  }

  /**
   * Dirty bytes (sealed segments not yet compacted) over all sealed bytes; 0 without sealed
   * segments. Compaction runs on its own timer once this reaches `minCleanableDirtyRatio`.
   */
  dirtyRatio(): number {
    const firstDirty = this.#firstDirtyOffset()
    let clean = 0
    let dirty = 0
    for (const segment of this.#segments.slice(0, -1)) {
      if (segment.baseOffset >= firstDirty) dirty += segment.size
      else clean += segment.size
    }
    return clean + dirty === 0 ? 0 : dirty / (clean + dirty)
  }

  #firstDirtyOffset(): number {
    const checkpointed = readCheckpoint(this.dir, CLEANER_OFFSET_FILE)
    const first = (this.#segments[0] as Segment).baseOffset
    return checkpointed === undefined || Number.isNaN(checkpointed) ? first : Math.max(first, checkpointed)
  }

  /**
   * Compact the sealed segments now (see cleaner.ts): keep the newest record per key, drop
   * tombstones past their horizon (with `sweep`, also when nothing new is dirty). The active
   * segment is never touched. Only for partitions whose `cleanupPolicy` includes `compact`.
   * Resolves with what it did.
   */
  compact(sweep = true): Promise<CleanResult> {
    this.#checkWritable()
    const o = this.#options
    if (o.cleanupPolicy === 'delete') throw new TypeError(`Cannot compact ${this.dir}: its cleanupPolicy is 'delete'`)
    if (this.#compacting !== undefined) return this.#compacting
    // Before the first rewrite, mark the partition compacted (the checkpoint's presence is how
    // verify, and later opens, know offset gaps are legitimate here), so a crash mid-pass leaves
    // no gap that looks like damage.
    if (readCheckpoint(this.dir, CLEANER_OFFSET_FILE) === undefined) writeCheckpoint(this.dir, CLEANER_OFFSET_FILE, this.#firstDirtyOffset(), o.fileMode)
    const run = (async () => {
      const result = await clean(
        {
          dir: this.dir,
          segments: () => this.#segments,
          replace: (old, fresh) => {
            const i = this.#segments.indexOf(old)
            if (i >= 0 && fresh !== undefined) this.#segments[i] = fresh
          },
          segmentOptions: { ...segmentOptionsOf(o), writable: false },
          maxBatchBytes: o.maxBatchBytes,
          fileMode: o.fileMode,
          hashes: this.#hashes as Awaited<ReturnType<typeof hashes>>,
          producerLastOffsets: () => new Set((this.#dedup?.producers.entries() ?? []).map((e) => e.batches[e.batches.length - 1]?.lastOffset ?? -1)),
          deleteRetentionMs: o.deleteRetentionMs,
          bufferBytes: o.compactionBufferBytes,
          aborted: () => this.#closed,
        },
        this.#firstDirtyOffset(),
        sweep,
      )
      writeCheckpoint(this.dir, CLEANER_OFFSET_FILE, result.firstDirtyOffset, o.fileMode)
      return result
    })()
    this.#compacting = run
    const done = (): void => {
      this.#compacting = undefined
      if (!this.#closed) this.#scheduleRetention()
    }
    run.then(done, done)
    return run
  }

  /** Delete sealed segments per the retention options now; returns how many were deleted. */
  applyRetention(): number {
    this.#checkWritable()
    return this.#applyRetention()
  }

  /**
   * Read records from `from` onward, about `maxBytes` of them (at least one whole batch).
   * Returns no records at the durable offset. Keys and values are views into one read buffer.
   */
  read(options: ReadOptions): ReadResult {
    if (this.#closed) throw new ClosedError(`Cannot read from ${this.dir}: the partition is closed`)
    const from = options.from
    if (!Number.isSafeInteger(from) || from < 0) throw new RangeError(`Invalid offset ${from}`)
    const maxBytes = options.maxBytes ?? READ_BYTES_DEFAULT
    if (this.readOnly && from >= this.#visible.offset) this.#refresh()
    if (from < this.#logStartOffset) {
      throw new OffsetOutOfRangeError(`Cannot read offset ${from} of ${this.dir}: the log starts at ${this.#logStartOffset}`)
    }
    if (from > this.#logEndOffset) {
      throw new OffsetOutOfRangeError(`Cannot read offset ${from} of ${this.dir}: the log ends at ${this.#logEndOffset}`)
    }
    if (from >= this.#visible.offset) return { records: [], nextOffset: from }
    const cursor = this.#cursor
    if (cursor !== undefined && cursor.offset === from && this.#segments.includes(cursor.segment)) {
      const end = this.#visibleEnd(cursor.segment)
      if (cursor.position < end) return this.#readFrom(cursor.segment, cursor.position, 0, end, from, maxBytes)
    }
    for (let i = this.#segmentIndexOf(from); i < this.#segments.length; i++) {
      const segment = this.#segments[i] as Segment
      const end = this.#visibleEnd(segment)
      const location = segment.locate(from, end)
      if (location !== undefined) return this.#readFrom(segment, location.position, location.header.batchLength + 12, end, from, maxBytes)
    }
    return { records: [], nextOffset: Math.max(from, this.#visible.offset) }
  }

  #visibleEnd(segment: Segment): number {
    const mark = this.#visible
    if (segment === mark.segment) return mark.position
    // Older segments are sealed, so whole and durable; that includes one compaction replaced
    // (same base offset, new object). Newer ones are beyond the durable offset.
    return segment.baseOffset <= mark.segment.baseOffset ? segment.size : 0
  }

  #segmentIndexOf(offset: number): number {
    let lo = 0
    let hi = this.#segments.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((this.#segments[mid] as Segment).baseOffset <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  #readFrom(segment: Segment, position: number, firstBatchBytes: number, end: number, from: number, maxBytes: number): ReadResult {
    // At least the first batch: its size if known, else at least its header, then the rest below.
    let length = Math.min(end - position, Math.max(maxBytes, firstBatchBytes === 0 ? BATCH_HEADER_BYTES : firstBatchBytes))
    let buffer = Buffer.allocUnsafe(length)
    let bytes = segment.read(buffer, position, length)
    if (firstBatchBytes === 0 && bytes >= 12) {
      // Read from a cursor: the first batch's size was not known; make sure it is all here.
      const first = buffer.readInt32BE(8) + 12
      if (first > bytes && first <= Math.min(end - position, this.#options.maxBatchBytes)) {
        length = first
        buffer = Buffer.allocUnsafe(length)
        bytes = segment.read(buffer, position, length)
      }
    }
    const records: LogRecord[] = []
    let nextOffset = from
    let at = 0
    // baseOffset is outside the CRC: check each batch's offsets against its neighbours and the
    // segment's range, so a damaged one is an error, never records under wrong offsets.
    let expected = firstBatchBytes === 0 ? from : -1
    const index = this.#segments.indexOf(segment)
    const limit = (this.#segments[index + 1] as Segment | undefined)?.baseOffset ?? this.#logEndOffset
    while (at < bytes) {
      const check = checkBatch(buffer, at, bytes, this.#options.maxBatchBytes)
      if (!check.ok) {
        if (check.problem === 'truncated' && at > 0) break // the next batch continues past this read
        throw new CorruptRecordError(`Cannot read ${segment.file} at position ${position + at}: ${check.message}`, {
          file: segment.file,
          position: position + at,
          offsetBefore: nextOffset - 1,
        })
      }
      const header = check.header
      const last = lastOffsetOf(header)
      const misplaced =
        header.baseOffset < segment.baseOffset ||
        last >= limit ||
        (expected >= 0 && (header.baseOffset < expected || (header.baseOffset > expected && !this.#gaps(expected, header.baseOffset - 1))))
      if (misplaced) {
        throw new CorruptRecordError(
          `Cannot read ${segment.file} at position ${position + at}: the batch holds offsets ${header.baseOffset} to ${last}, ` +
            `which do not follow ${expected >= 0 ? `offset ${expected - 1}` : `the segment's start ${segment.baseOffset}`} within [${segment.baseOffset}, ${limit}); its baseOffset is damaged; run 'seglog verify'`,
          { file: segment.file, position: position + at, offsetBefore: expected - 1 },
        )
      }
      expected = last + 1
      if (!isControlBatch(header)) {
        const batchRecords = decodeRecords(buffer, at, header, { file: segment.file, position: position + at, maxBatchBytes: this.#options.maxBatchBytes }, from)
        for (const r of batchRecords) records.push(r)
      }
      nextOffset = Math.max(nextOffset, lastOffsetOf(header) + 1)
      at += check.size
    }
    this.#cursor = { segment, offset: nextOffset, position: position + at }
    return { records, nextOffset }
  }

  /**
   * Iterate records from `from` (default: the log start offset). With `follow`, wait at the end
   * for more instead of finishing: woken by appends in this process, or, in a read-only partition,
   * by `fs.watch` on the folder with a polling fallback. Ends when the partition closes.
   */
  records(options: RecordsOptions = {}): AsyncIterableIterator<LogRecord> {
    // A hand-written iterator rather than an async generator: a generator's resume per record
    // costs about three times a resolved promise, and replay yields millions of records.
    let next = options.from ?? this.#logStartOffset
    const readOptions: ReadOptions = { from: next }
    if (options.maxBytes !== undefined) readOptions.maxBytes = options.maxBytes
    let buffered: LogRecord[] = []
    let at = 0
    let finished = false
    const end = (): IteratorResult<LogRecord> => {
      finished = true
      buffered = []
      return { done: true, value: undefined }
    }
    const refill = async (): Promise<IteratorResult<LogRecord>> => {
      while (!finished && !this.#closed) {
        options.signal?.throwIfAborted()
        readOptions.from = next
        const { records, nextOffset } = this.read(readOptions)
        const progressed = nextOffset > next
        next = nextOffset
        if (records.length > 0) {
          buffered = records
          at = 1
          return { done: false, value: records[0] as LogRecord }
        }
        if (progressed) continue
        if (options.follow !== true) break
        await this.#waitForData(next, options.signal)
      }
      return end()
    }
    let refilling: Promise<IteratorResult<LogRecord>> | undefined
    const iterator: AsyncIterableIterator<LogRecord> = {
      [Symbol.asyncIterator]() {
        return this
      },
      next: (): Promise<IteratorResult<LogRecord>> => {
        // Calls made before a refill settles queue behind it, in order.
        if (refilling !== undefined) return refilling.then(() => iterator.next())
        if (at < buffered.length) return Promise.resolve({ done: false, value: buffered[at++] as LogRecord })
        if (finished) return Promise.resolve({ done: true, value: undefined })
        refilling = refill().then(
          (result) => {
            refilling = undefined
            return result
          },
          (err: unknown) => {
            refilling = undefined
            end()
            throw err
          },
        )
        return refilling
      },
      return: (): Promise<IteratorResult<LogRecord>> => Promise.resolve(end()),
    }
    return iterator
  }

  /** Resolves when the durable offset passes `offset`, the partition closes, or `signal` aborts. */
  async #waitForData(offset: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#visible.offset > offset || this.#closed) return
    let cleanup = (): void => {}
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal?.reason)
        signal?.addEventListener('abort', onAbort, { once: true })
        const done = (): void => resolve()
        this.#dataWaiters.add(done)
        let watcher: fs.FSWatcher | undefined
        let poll: NodeJS.Timeout | undefined
        if (this.readOnly) {
          const check = (): void => {
            try {
              this.#refresh()
            } catch (err) {
              reject(err)
              return
            }
            if (this.#visible.offset > offset) resolve()
          }
          try {
            watcher = fs.watch(this.dir, { persistent: false }, check)
            watcher.on('error', () => {})
          } catch {
            watcher = undefined // polling alone still works
          }
          poll = setInterval(check, this.#options.pollIntervalMs)
        }
        cleanup = () => {
          signal?.removeEventListener('abort', onAbort)
          this.#dataWaiters.delete(done)
          watcher?.close()
          if (poll !== undefined) clearInterval(poll)
        }
      })
    } finally {
      cleanup()
    }
  }

  /**
   * The first offset whose record timestamp is at least `timestamp` (through the time index),
   * or the durable offset if there is none.
   */
  offsetForTimestamp(timestamp: number): number {
    if (this.#closed) throw new ClosedError(`Cannot search ${this.dir}: the partition is closed`)
    for (const segment of this.#segments) {
      const end = this.#visibleEnd(segment)
      const location = segment.locateTimestamp(timestamp, end)
      if (location === undefined) continue
      const from = Math.max(location.header.baseOffset, this.#logStartOffset)
      const { records } = this.#readFrom(segment, location.position, location.header.batchLength + 12, end, from, 0)
      const hit = records.find((r) => r.timestamp >= timestamp)
      if (hit !== undefined) return hit.offset
    }
    return this.#visible.offset
  }

  /**
   * A read-only partition: re-read what the writer (in any process) did since: new segments,
   * retention, the durable offset. A writer's own view is always current; this does nothing.
   */
  refresh(): void {
    if (this.#closed) throw new ClosedError(`Cannot refresh ${this.dir}: the partition is closed`)
    if (this.readOnly) this.#refresh()
  }

  /** Re-read what a writer in another process did: new segments, deletions, the durable offset. */
  #refresh(): void {
    const o = this.#options
    const bases = listSegmentBases(this.dir)
    const present = new Set(bases)
    const kept = this.#segments.filter((s) => {
      if (present.has(s.baseOffset)) return true
      s.close()
      return false
    })
    const known = new Set(kept.map((s) => s.baseOffset))
    for (const base of bases) if (!known.has(base)) kept.push(Segment.open(this.dir, base, { ...segmentOptionsOf(o), writable: false, repairIndexes: false }))
    kept.sort((a, b) => a.baseOffset - b.baseOffset)
    if (kept.length === 0) return
    this.#segments = kept
    const checkpointed = readCheckpoint(this.dir, LOG_START_OFFSET_FILE)
    const first = (kept[0] as Segment).baseOffset
    this.#logStartOffset = Math.max(first, checkpointed === undefined || Number.isNaN(checkpointed) ? 0 : checkpointed)
    const cap = readDurableOffset(this.dir)
    // Sealed segments are whole; the last one is read up to its last whole, valid batch, scanning
    // on from what the previous refresh saw (so a follower's refresh costs what was appended).
    let end: DurableMark | undefined
    const previous = this.#visible
    // Segments from the one last seen on may have grown since (and been sealed by a roll).
    for (const segment of kept) if (segment.baseOffset >= previous.segment.baseOffset) segment.refreshSize()
    for (let i = kept.length - 1; i >= 0 && end === undefined; i--) {
      const segment = kept[i] as Segment
      const size = segment.size
      const resume = segment === previous.segment && previous.position <= size && previous.offset <= cap ? previous : undefined
      end = lastVisible(segment, cap, o.maxBatchBytes, resume)
    }
    const mark = end ?? { offset: first, segment: kept[0] as Segment, position: 0, writtenBytes: 0 }
    this.#logEndOffset = mark.offset
    this.#visible = mark
  }

  /** Drain pending appends, fsync, trim indexes, write the clean-shutdown marker, release the lock. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#compacting?.catch(() => undefined) // it stops at the next batch once closed
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    await Promise.allSettled([...this.#pending])
    await this.#commit?.idle()
    this.#wake()
    const failedBefore = this.#failure
    let failure = failedBefore
    try {
      if (!this.readOnly && failure === undefined) {
        try {
          io.fdatasyncSync(this.#active.fd)
          this.#syncedBytes = this.#writtenBytes
          if (this.#commit !== undefined) this.#setVisible(this.#endMark())
        } catch (err) {
          // Typed like any append's failure; the files are still closed, and without a
          // clean-shutdown marker the next open recovers.
          failure = this.#fail(err, 'fsync')
        }
      }
      for (const s of this.#segments) s.close()
      if (this.#durableFd !== undefined) io.close(this.#durableFd)
      this.#durableFd = undefined
      if (!this.readOnly && failure === undefined && this.#dedup !== undefined) {
        writeSnapshot(this.dir, this.#logEndOffset, this.#dedup.producers, this.#options.fileMode)
      }
      if (!this.readOnly && failure === undefined) io.writeFileAtomic(this.dir, CLEAN_SHUTDOWN_FILE, `${this.#logEndOffset}\n`, this.#options.fileMode)
    } catch (err) {
      throw storageErrorOf(err, `Cannot close partition ${this.dir}`)
    } finally {
      if (this.#lockFd !== undefined) io.close(this.#lockFd)
      this.#lockFd = undefined
    }
    if (failure !== failedBefore) throw failure
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function segmentOptionsOf(o: ResolvedOptions): Omit<SegmentOptions, 'writable'> {
  return { indexIntervalBytes: o.indexIntervalBytes, maxIndexBytes: o.maxIndexBytes, maxBatchBytes: o.maxBatchBytes, fileMode: o.fileMode, repairIndexes: true }
}

/**
 * The recovery decision, as data:
 *
 * | clean-shutdown marker | last segment's index sane and tail whole | action                                   |
 * |-----------------------|------------------------------------------|------------------------------------------|
 * | present               | yes                                      | trust it: no scan (cost ∝ segment count) |
 * | present               | no                                       | recover the last segment                 |
 * | absent                | —                                        | recover every segment from the recovery point |
 *
 * Sealed segments' indexes are checked when first used and rebuilt if they fail.
 */
function recover(
  segments: Segment[],
  recoveryPoint: number,
  o: ResolvedOptions,
  report: RecoveryReport,
  registry: { gaps: GapRule; recordGap: (from: number, to: number) => void },
): void {
  const last = segments.length - 1
  let from: number
  if (report.clean) {
    const active = segments[last] as Segment
    from = active.sanityCheck() === undefined && active.checkTail() === undefined ? segments.length : last
    if (from === last) report.clean = false
  } else {
    from = segments.findIndex((s) => s.baseOffset >= recoveryPoint)
    if (from < 0) from = last
  }
  if (from < segments.length) {
    recoverSegments(segments, from, { maxBatchBytes: o.maxBatchBytes, maxUnsyncedBytes: o.maxUnsyncedBytes, repair: o.repair, ...registry }, report)
  }
  // Recovered segments other than the last are sealed again (fsync'd, indexes trimmed).
  for (let i = 0; i < segments.length - 1; i++) (segments[i] as Segment).seal()
}

/**
 * The last whole, valid batch of `segment` below `cap`, as a mark; undefined if none. Scans on
 * from `resume` (a mark of this segment known to be valid) when given.
 */
function lastVisible(segment: Segment, cap: number, maxBatchBytes: number, resume?: DurableMark): DurableMark | undefined {
  let mark: DurableMark | undefined = resume
  if (resume !== undefined) {
    for (const step of scanBatches(segment.fd, { from: resume.position, end: segment.size, maxBatchBytes })) {
      if (step.kind === 'invalid') break
      const next = lastOffsetOf(step.header) + 1
      if (next > cap) break
      mark = { offset: next, segment, position: step.position + step.size, writtenBytes: 0 }
    }
    return mark
  }
  const tail = segment.offsetIndex.lastEntry()
  // Start from the last index entry when it is inside the file, else from the start.
  let from = tail !== undefined && tail.position < segment.size ? tail.position : 0
  for (let attempt = 0; attempt < 2 && mark === undefined; attempt++) {
    for (const step of scanBatches(segment.fd, { from, end: segment.size, maxBatchBytes })) {
      if (step.kind === 'invalid') break
      const next = lastOffsetOf(step.header) + 1
      if (next > cap) break
      mark = { offset: next, segment, position: step.position + step.size, writtenBytes: 0 }
    }
    if (from === 0) break
    from = 0
  }
  if (mark === undefined && segment.size === 0) return undefined
  return mark
}


function readDurableOffset(dir: string): number {
  try {
    const fd = io.open(path.join(dir, DURABLE_OFFSET_FILE), fs.constants.O_RDONLY)
    try {
      const buf = Buffer.alloc(OFFSET_BYTES)
      if (io.preadFully(fd, buf, 0, OFFSET_BYTES, 0) < OFFSET_BYTES) return Infinity
      const value = Number(buf.readBigInt64BE(0))
      return value >= 0 ? value : Infinity
    } finally {
      io.close(fd)
    }
  } catch {
    return Infinity
  }
}

function listSegmentBases(dir: string): number[] {
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch (err) {
    throw new StorageError(`Cannot list partition folder ${dir}: ${(err as Error).message}`, { file: dir, cause: err })
  }
  const bases: number[] = []
  for (const name of names) {
    const base = parseSegmentName(name)
    if (base !== undefined) bases.push(base)
  }
  return bases.sort((a, b) => a - b)
}

/** Remove what an interrupted checkpoint write or repair left behind. */
function cleanLeftovers(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith('.tmp') || name.endsWith('.log.repair')) io.unlink(path.join(dir, name))
  }
}

function refuseSymlink(dir: string): void {
  let stat: fs.Stats
  try {
    stat = fs.lstatSync(dir)
  } catch (err) {
    throw new StorageError(`Cannot open partition ${dir}: ${(err as Error).message}`, { file: dir, cause: err })
  }
  if (stat.isSymbolicLink()) throw new StorageError(`Cannot open partition ${dir}: it is a symbolic link, which seglog does not follow`, { file: dir })
  if (!stat.isDirectory()) throw new StorageError(`Cannot open partition ${dir}: it is not a folder`, { file: dir })
}

function takeLock(dir: string, mode: number): number {
  const file = path.join(dir, LOCK_FILE)
  const fd = io.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT, mode)
  let locked: boolean
  try {
    locked = io.tryLockExclusive(fd)
  } catch (err) {
    io.close(fd)
    throw err
  }
  if (!locked) {
    const holder = fs.readFileSync(file, 'utf8').trim()
    io.close(fd)
    throw new LockedError(
      `Cannot open partition ${dir} for writing: another writer holds ${file}${holder === '' ? '' : ` (process ${holder})`}; close it first, or open read-only`,
      { file },
    )
  }
  const pid = Buffer.from(`${process.pid}\n`)
  try {
    io.ftruncate(fd, 0)
    io.pwriteFully(fd, pid, 0, pid.length, 0)
  } catch (err) {
    io.close(fd) // or the lock stays held by nobody until this process exits
    throw err
  }
  return fd
}


function offsetsOf(count: number, baseOffset: number, msgIds: MsgIdCheck): number[] {
  const offsets: number[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const dup = msgIds.duplicates.get(i)
    offsets[i] = dup === undefined ? baseOffset + i : dup >= 0 ? dup : baseOffset + (-1 - dup)
  }
  return offsets
}
