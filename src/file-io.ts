/**
 * The one module through which seglog touches files.
 *
 * Every open, read, write, fsync, rename, truncate and unlink of the storage layers goes through
 * here, so that tests can make the Nth operation fail with EIO, ENOSPC or EDQUOT (SQLite-style
 * fault injection) without mocking the file system: the real call runs unless a fault is injected.
 *
 * Reads and writes are synchronous on purpose: a write lands in the page cache in microseconds,
 * and doing it synchronously keeps appends ordered without a queue. The only slow call, the
 * `fdatasync` that makes data durable, is asynchronous so that concurrent appends can share it.
 */
import fs from 'node:fs'
import { flockSync } from 'fs-ext'

export type IoOp =
  | 'open'
  | 'close'
  | 'read'
  | 'write'
  | 'fdatasync'
  | 'fsync-dir'
  | 'rename'
  | 'ftruncate'
  | 'unlink'
  | 'mkdir'

/** Returns an error to throw instead of running `op` on `file`, or undefined to run it. */
export type FaultInjector = (op: IoOp, file: string) => NodeJS.ErrnoException | undefined

let injector: FaultInjector | undefined
const fdPaths = new Map<number, string>()

/** Install (or, with `undefined`, remove) a fault injector. For tests. */
export function setFaultInjector(fn: FaultInjector | undefined): void {
  injector = fn
}

/**
 * What a write recorder is told: each operation that changes files or folders, after it
 * succeeded. `fdatasync` is told twice, when issued (`phase: 'begin'`) and when it completed
 * (`phase: 'end'`, with the same `id`): only writes made before the begin are sure to be covered.
 * `bytes` of a write is a view of the caller's buffer, valid only during the call (copy it).
 * Writes through a memory mapping (the indexes) do not pass through this module and are not told.
 */
export type RecordedOp =
  | { op: 'open'; file: string; fd: number; flags: number }
  | { op: 'close'; file: string; fd: number }
  | { op: 'write'; file: string; fd: number; position: number; bytes: Uint8Array }
  | { op: 'ftruncate'; file: string; fd: number; length: number }
  | { op: 'fdatasync'; file: string; fd: number; phase: 'begin' | 'end'; id: number }
  | { op: 'fsync-dir'; file: string }
  | { op: 'rename'; file: string; from: string }
  | { op: 'unlink'; file: string }
  | { op: 'mkdir'; file: string }

/** Receives every {@link RecordedOp}, synchronously. Must not call back into this module. */
export type WriteRecorder = (event: RecordedOp) => void

let recorder: WriteRecorder | undefined
let syncIds = 0

/**
 * Install (or, with `undefined`, remove) a write recorder. For tests: the power-loss simulation
 * of the reliability suite uses it to know which writes an fsync covered, so that it can build the
 * states a power loss may leave (unsynced writes dropped, torn or reordered).
 */
export function setWriteRecorder(fn: WriteRecorder | undefined): void {
  recorder = fn
}

/** Build an errno-style error, as the file system would raise it. */
export function errnoError(code: string, op: IoOp, file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: injected fault, ${op} '${file}'`)
  err.code = code
  err.syscall = op
  err.path = file
  return err
}

function check(op: IoOp, file: string): void {
  if (injector === undefined) return
  const err = injector(op, file)
  if (err !== undefined) throw err
}

function pathOf(fd: number): string {
  return fdPaths.get(fd) ?? `fd ${fd}`
}

const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0

/**
 * Open `file` without following a symlink in its last component (a symlinked segment is refused
 * with ELOOP rather than followed). `flags` is a numeric `fs.constants.O_*` combination.
 */
export function open(file: string, flags: number, mode = 0o600): number {
  check('open', file)
  const fd = fs.openSync(file, flags | O_NOFOLLOW, mode)
  fdPaths.set(fd, file)
  recorder?.({ op: 'open', file, fd, flags })
  return fd
}

export function close(fd: number): void {
  const file = pathOf(fd)
  fdPaths.delete(fd)
  check('close', file)
  fs.closeSync(fd)
  recorder?.({ op: 'close', file, fd })
}

/** Read up to `length` bytes at `position` into `buffer` at `offset`; returns the bytes read. */
export function pread(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
  check('read', pathOf(fd))
  return fs.readSync(fd, buffer, offset, length, position)
}

/** Read exactly `length` bytes at `position` (fewer only at end of file). */
export function preadFully(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number {
  let done = 0
  while (done < length) {
    const n = pread(fd, buffer, offset + done, length - done, position + done)
    if (n === 0) break
    done += n
  }
  return done
}

/** Write all of `buffer[offset, offset + length)` at `position`, looping over short writes. */
export function pwriteFully(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): void {
  const file = pathOf(fd)
  let done = 0
  while (done < length) {
    check('write', file)
    const n = fs.writeSync(fd, buffer, offset + done, length - done, position + done)
    recorder?.({ op: 'write', file, fd, position: position + done, bytes: buffer.subarray(offset + done, offset + done + n) })
    done += n
  }
}

/** Flush a file's data (and the metadata needed to read it back) to stable storage. */
export function fdatasync(fd: number): Promise<void> {
  const file = pathOf(fd)
  return new Promise((resolve, reject) => {
    try {
      check('fdatasync', file)
    } catch (err) {
      reject(err)
      return
    }
    const id = ++syncIds
    recorder?.({ op: 'fdatasync', file, fd, phase: 'begin', id })
    fs.fdatasync(fd, (err) => {
      if (err !== null) return reject(err)
      recorder?.({ op: 'fdatasync', file, fd, phase: 'end', id })
      resolve()
    })
  })
}

export function fdatasyncSync(fd: number): void {
  const file = pathOf(fd)
  check('fdatasync', file)
  const id = ++syncIds
  recorder?.({ op: 'fdatasync', file, fd, phase: 'begin', id })
  fs.fdatasyncSync(fd)
  recorder?.({ op: 'fdatasync', file, fd, phase: 'end', id })
}

/** fsync a folder, so that files created, renamed or removed in it survive power loss. */
export function fsyncDir(dir: string): void {
  check('fsync-dir', dir)
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  recorder?.({ op: 'fsync-dir', file: dir })
}

export function rename(from: string, to: string): void {
  check('rename', to)
  fs.renameSync(from, to)
  recorder?.({ op: 'rename', file: to, from })
}

export function ftruncate(fd: number, length: number): void {
  const file = pathOf(fd)
  check('ftruncate', file)
  fs.ftruncateSync(fd, length)
  recorder?.({ op: 'ftruncate', file, fd, length })
}

export function unlink(file: string): void {
  check('unlink', file)
  fs.unlinkSync(file)
  recorder?.({ op: 'unlink', file })
}

/** Remove `file` if present; returns whether it existed. */
export function unlinkIfExists(file: string): boolean {
  try {
    unlink(file)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

export function mkdir(dir: string, mode = 0o700): void {
  check('mkdir', dir)
  fs.mkdirSync(dir, { recursive: true, mode })
  recorder?.({ op: 'mkdir', file: dir })
}

export function fstatSize(fd: number): number {
  return fs.fstatSync(fd).size
}

/** Take an exclusive, non-blocking flock on `fd`; false if another open file description holds it. */
export function tryLockExclusive(fd: number): boolean {
  try {
    flockSync(fd, 'exnb')
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false
    throw err
  }
}

/**
 * Write `text` to `file` atomically and durably: write a temporary file, fsync it, rename it over
 * `file`, fsync the folder. A crash leaves either the old or the new content, never a mix.
 */
export function writeFileAtomic(dir: string, name: string, text: string, mode = 0o600): void {
  const file = `${dir}/${name}`
  const tmp = `${file}.tmp`
  const fd = open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, mode)
  try {
    const bytes = Buffer.from(text, 'utf8')
    pwriteFully(fd, bytes, 0, bytes.length, 0)
    fdatasyncSync(fd)
  } finally {
    close(fd)
  }
  rename(tmp, file)
  fsyncDir(dir)
}
