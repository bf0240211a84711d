/**
 * A model of what a power loss can leave of one folder, fed by the file-I/O module's write
 * recorder (`setWriteRecorder` in src/file-io.ts).
 *
 * Model (POSIX, as ext4/xfs behave; the one CrashMonkey and ALICE use):
 * - A file's data is durable up to its last completed `fdatasync`; a sync covers the writes made
 *   before it began. Writes and truncations after that are *pending*: a crash may keep any of them,
 *   none, a prefix, a subset (reordered), or tear one at 512-byte sector granularity, with the
 *   sectors not written holding zeros or garbage, and the file size either old or new.
 * - A folder's entries (create, rename, unlink) are durable up to its last `fsync`; after that a
 *   crash keeps a prefix of the pending entry changes (metadata is journaled in order).
 * - Index files are written through a memory mapping, which the recorder does not see: a crash
 *   state gives them the bytes they hold in the running process (written back) or, for the newest
 *   segment's indexes only, zeros (never written back), at the length the recorded truncations give
 *   them. Older segments' indexes were msync'd when the segment was sealed (Segment.seal), before
 *   they were trimmed; the newest segment's are msync'd by nothing but a seal, not by close().
 *
 * Only files directly in the modelled folder are tracked; it must exist and be empty when the
 * model starts.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { RecordedOp } from '../../src/file-io.js'
import type { Random } from './random.js'

const SECTOR_BYTES = 512

type DataOp = { kind: 'write'; position: number; bytes: Buffer } | { kind: 'truncate'; length: number }
type DirOp = { kind: 'link'; name: string; inode: Inode } | { kind: 'rename'; from: string; to: string } | { kind: 'unlink'; name: string }

class Inode {
  readonly id: number
  readonly mapped: boolean
  /** Content as of the last completed fdatasync. */
  durable: Buffer = Buffer.alloc(0)
  /** Data operations since then, oldest first; `pendingBase` numbers the first. */
  pending: DataOp[] = []
  pendingBase = 0
  /** Content as the running process sees it (only for files not written through a mapping). */
  current: Buffer = Buffer.alloc(0)

  constructor(id: number, mapped: boolean) {
    this.id = id
    this.mapped = mapped
  }

  apply(op: DataOp): void {
    this.current = applyOp(this.current, op)
    this.pending.push(op)
  }

  /** Make the operations numbered below `upTo` durable. */
  commit(upTo: number): void {
    while (this.pendingBase < upTo && this.pending.length > 0) {
      this.durable = applyOp(this.durable, this.pending.shift() as DataOp)
      this.pendingBase++
    }
  }

  get opCount(): number {
    return this.pendingBase + this.pending.length
  }
}

function applyOp(content: Buffer, op: DataOp): Buffer {
  if (op.kind === 'truncate') {
    if (op.length <= content.length) return content.subarray(0, op.length)
    return Buffer.concat([content, Buffer.alloc(op.length - content.length)])
  }
  const end = op.position + op.bytes.length
  const out = end > content.length ? Buffer.concat([content, Buffer.alloc(end - content.length)]) : Buffer.from(content)
  op.bytes.copy(out, op.position)
  return out
}

/** Index files: written through mmap, invisible to the recorder. */
function isMapped(name: string): boolean {
  return name.endsWith('.index') || name.endsWith('.timeindex')
}

export type Variant = 'durable' | 'everything' | 'prefix' | 'torn-zero' | 'torn-garbage' | 'reorder'
export const VARIANTS: readonly Variant[] = ['durable', 'everything', 'prefix', 'torn-zero', 'torn-garbage', 'reorder']

export class CrashModel {
  readonly dir: string
  #inodes = 0
  #fds = new Map<number, Inode>()
  #current = new Map<string, Inode>()
  #durableDir = new Map<string, Inode>()
  #pendingDir: DirOp[] = []
  #syncs = new Map<number, { inode: Inode; upTo: number }>()
  /** Events seen in the folder. */
  events = 0

  constructor(dir: string) {
    this.dir = path.resolve(dir)
  }

  /** The recorder to install with `setWriteRecorder` (it ignores everything outside the folder). */
  readonly record = (event: RecordedOp): void => {
    switch (event.op) {
      case 'open': {
        if (path.dirname(path.resolve(event.file)) !== this.dir) return
        const name = path.basename(event.file)
        let inode = this.#current.get(name)
        if (inode === undefined) {
          inode = new Inode(++this.#inodes, isMapped(name))
          this.#current.set(name, inode)
          this.#pendingDir.push({ kind: 'link', name, inode })
        } else if ((event.flags & fs.constants.O_TRUNC) !== 0 && inode.current.length > 0) {
          inode.apply({ kind: 'truncate', length: 0 })
        }
        this.#fds.set(event.fd, inode)
        break
      }
      case 'close':
        this.#fds.delete(event.fd)
        return
      case 'write': {
        const inode = this.#fds.get(event.fd)
        if (inode === undefined) return
        inode.apply({ kind: 'write', position: event.position, bytes: Buffer.from(event.bytes) })
        break
      }
      case 'ftruncate': {
        const inode = this.#fds.get(event.fd)
        if (inode === undefined) return
        inode.apply({ kind: 'truncate', length: event.length })
        break
      }
      case 'fdatasync': {
        const inode = this.#fds.get(event.fd)
        if (inode === undefined) return
        if (event.phase === 'begin') {
          this.#syncs.set(event.id, { inode, upTo: inode.opCount })
          return
        }
        const sync = this.#syncs.get(event.id)
        this.#syncs.delete(event.id)
        if (sync !== undefined) sync.inode.commit(sync.upTo)
        break
      }
      case 'fsync-dir':
        if (path.resolve(event.file) !== this.dir) return
        this.#durableDir = new Map(this.#current)
        this.#pendingDir = []
        break
      case 'rename': {
        const inFrom = path.dirname(path.resolve(event.from)) === this.dir
        const inTo = path.dirname(path.resolve(event.file)) === this.dir
        if (!inFrom && !inTo) return
        if (!inFrom || !inTo) throw new Error(`crash model: rename across folders (${event.from} → ${event.file}) is not modelled`)
        const from = path.basename(event.from)
        const to = path.basename(event.file)
        const inode = this.#current.get(from)
        if (inode === undefined) throw new Error(`crash model: rename of ${from}, which the model does not know`)
        this.#current.delete(from)
        this.#current.set(to, inode)
        this.#pendingDir.push({ kind: 'rename', from, to })
        break
      }
      case 'unlink': {
        if (path.dirname(path.resolve(event.file)) !== this.dir) return
        const name = path.basename(event.file)
        this.#current.delete(name)
        this.#pendingDir.push({ kind: 'unlink', name })
        break
      }
      case 'mkdir':
        return
    }
    this.events++
  }

  /** Bytes written but not yet covered by an fdatasync, per file currently named. */
  pendingBytes(): number {
    let total = 0
    for (const inode of new Set(this.#current.values())) for (const op of inode.pending) if (op.kind === 'write') total += op.bytes.length
    return total
  }

  /** The content of `name` as the running process wrote it (not for index files). */
  currentContent(name: string): Buffer | undefined {
    return this.#current.get(name)?.current
  }

  /**
   * The files a power loss at this moment could leave, for one random choice within `variant`:
   * name → content. Reads the live index files from the real folder.
   */
  crashState(variant: Variant, random: Random): Map<string, Buffer> {
    const entries = new Map(this.#durableDir)
    const dirOps = variant === 'durable' ? 0 : variant === 'everything' ? this.#pendingDir.length : random.int(0, this.#pendingDir.length)
    for (const op of this.#pendingDir.slice(0, dirOps)) {
      if (op.kind === 'link') entries.set(op.name, op.inode)
      else if (op.kind === 'unlink') entries.delete(op.name)
      else {
        const inode = entries.get(op.from)
        entries.delete(op.from)
        if (inode !== undefined) entries.set(op.to, inode)
      }
    }
    const liveName = new Map<Inode, string>()
    for (const [name, inode] of this.#current) liveName.set(inode, name)
    let newest = -1
    for (const name of this.#current.keys()) if (/^\d{20}\.log$/.test(name)) newest = Math.max(newest, Number(name.slice(0, 20)))
    const out = new Map<string, Buffer>()
    for (const [name, inode] of entries) {
      const content = this.#contentOf(inode, variant, random)
      const sealed = /^\d{20}\./.test(name) && Number(name.slice(0, 20)) < newest
      out.set(name, inode.mapped ? this.#mappedContent(content.length, liveName.get(inode), sealed, random) : content)
    }
    return out
  }

  #contentOf(inode: Inode, variant: Variant, random: Random): Buffer {
    const ops = inode.pending
    let content = inode.durable
    if (variant === 'durable' || ops.length === 0) return content
    if (variant === 'everything') return inode.current
    if (variant === 'reorder') {
      for (const op of ops) if (random.chance(0.5)) content = applyOp(content, op)
      return content
    }
    const keep = random.int(0, ops.length)
    for (const op of ops.slice(0, keep)) content = applyOp(content, op)
    const torn = ops[keep]
    if (variant === 'prefix' || torn === undefined || torn.kind !== 'write') return content
    return tear(content, torn, variant === 'torn-garbage', random)
  }

  /** An index file: the bytes the process mapped (written back), or zeros (not, unless `synced`), at `length`. */
  #mappedContent(length: number, liveName: string | undefined, synced: boolean, random: Random): Buffer {
    const out = Buffer.alloc(length)
    if (liveName === undefined || (!synced && random.chance(0.3))) return out
    try {
      const live = fs.readFileSync(path.join(this.dir, liveName))
      live.copy(out, 0, 0, Math.min(length, live.length))
    } catch {
      // Gone from the real folder since: zeros.
    }
    return out
  }
}

/**
 * Apply `op` to `content` torn: each 512-byte sector it touches (counted from the start of the
 * file) gets the new bytes, keeps the old ones, or holds zeros or garbage; the size is old or new.
 */
function tear(content: Buffer, op: Extract<DataOp, { kind: 'write' }>, garbage: boolean, random: Random): Buffer {
  const end = op.position + op.bytes.length
  const newSize = Math.max(content.length, end)
  const out = Buffer.alloc(newSize)
  content.copy(out)
  for (let sector = Math.floor(op.position / SECTOR_BYTES) * SECTOR_BYTES; sector < end; sector += SECTOR_BYTES) {
    const from = Math.max(sector, op.position)
    const to = Math.min(sector + SECTOR_BYTES, end)
    const choice = random.int(0, 2)
    if (choice === 0) op.bytes.copy(out, from, from - op.position, to - op.position)
    else if (choice === 1 && from < content.length) continue // the old bytes (zeros past the old end)
    else if (garbage) random.bytes(to - from).copy(out, from)
    else out.fill(0, from, to)
  }
  // The size may not have reached the disk: then the file ends where it ended.
  return random.chance(0.5) || content.length >= end ? out : out.subarray(0, Math.max(content.length, 0))
}
