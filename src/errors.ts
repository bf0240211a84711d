/**
 * Errors raised by seglog.
 *
 * Every operating error is a {@link SeglogError} with a literal, namespaced `code`, the file and
 * byte position it concerns where there is one, and the underlying error as `cause`. Programmer
 * errors (bad arguments) are `TypeError` / `RangeError`, never a `SeglogError`.
 *
 * @example
 * ```ts
 * try { await Partition.open(dir) } catch (err) {
 *   if (err instanceof SeglogError && err.code === 'ERR_LOCKED') console.error('already open')
 * }
 * ```
 */

export type ErrorCode =
  | 'ERR_CORRUPT_RECORD'
  | 'ERR_CORRUPT_INDEX'
  | 'ERR_OFFSET_OUT_OF_RANGE'
  | 'ERR_LOCKED'
  | 'ERR_CLOSED'
  | 'ERR_RECORD_TOO_LARGE'
  | 'ERR_INVALID_NAME'
  | 'ERR_INVALID_CONFIG'
  | 'ERR_OUT_OF_ORDER_SEQUENCE'
  | 'ERR_STORAGE'
  | 'ERR_UNSUPPORTED_FORMAT'
  | 'ERR_UNKNOWN_TOPIC'

export interface ErrorDetails {
  /** The file the error concerns. */
  file?: string
  /** Byte position inside `file`. */
  position?: number
  /** The error that caused this one. */
  cause?: unknown
}

/** Base class of every operating error seglog raises. */
export class SeglogError extends Error {
  override name = 'SeglogError'
  readonly code: ErrorCode
  readonly file: string | undefined
  readonly position: number | undefined

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.file = details.file
    this.position = details.position
  }
}

/** Bytes on disk fail a bound, magic or CRC check: the file is damaged (or not a seglog file). */
export class CorruptRecordError extends SeglogError {
  override name = 'CorruptRecordError'
  /** Last offset known good before the damage, and first offset known good after it, if any. */
  readonly offsetBefore: number | undefined
  readonly offsetAfter: number | undefined
  constructor(message: string, details: ErrorDetails & { offsetBefore?: number; offsetAfter?: number } = {}) {
    super('ERR_CORRUPT_RECORD', message, details)
    this.offsetBefore = details.offsetBefore
    this.offsetAfter = details.offsetAfter
  }
}

/** An index file fails its sanity check. Indexes are rebuilt from the `.log`, so this is repairable. */
export class CorruptIndexError extends SeglogError {
  override name = 'CorruptIndexError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_CORRUPT_INDEX', message, details)
  }
}

/** A read asked for an offset below the log start offset or above the log end offset. */
export class OffsetOutOfRangeError extends SeglogError {
  override name = 'OffsetOutOfRangeError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_OFFSET_OUT_OF_RANGE', message, details)
  }
}

/** Another writer (process, or another open in this process) holds the partition's lock. */
export class LockedError extends SeglogError {
  override name = 'LockedError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_LOCKED', message, details)
  }
}

/** The object was closed; open it again. */
export class ClosedError extends SeglogError {
  override name = 'ClosedError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_CLOSED', message, details)
  }
}

/** A record or batch is larger than the configured maximum. */
export class RecordTooLargeError extends SeglogError {
  override name = 'RecordTooLargeError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_RECORD_TOO_LARGE', message, details)
  }
}

/** A topic or group name is not `[a-zA-Z0-9._-]{1,249}` (or is `.` / `..`). */
export class InvalidNameError extends SeglogError {
  override name = 'InvalidNameError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_INVALID_NAME', message, details)
  }
}

/** Stored configuration disagrees with the one given, or cannot be read. */
export class InvalidConfigError extends SeglogError {
  override name = 'InvalidConfigError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_INVALID_CONFIG', message, details)
  }
}

/** An idempotent producer skipped a sequence number. */
export class OutOfOrderSequenceError extends SeglogError {
  override name = 'OutOfOrderSequenceError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_OUT_OF_ORDER_SEQUENCE', message, details)
  }
}

/**
 * A write, fsync or other file operation failed (EIO, ENOSPC, …). After a failed write or fsync
 * the partition refuses every later append with this error until it is closed and opened again,
 * because the kernel may have dropped the dirty pages: retrying the fsync would not make them safe.
 */
export class StorageError extends SeglogError {
  override name = 'StorageError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_STORAGE', message, details)
  }
}

/** The bytes use a format or codec seglog does not read (magic ≠ 2, snappy, lz4, zstd). */
export class UnsupportedFormatError extends SeglogError {
  override name = 'UnsupportedFormatError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_UNSUPPORTED_FORMAT', message, details)
  }
}

/** The topic does not exist in this log. */
export class UnknownTopicError extends SeglogError {
  override name = 'UnknownTopicError'
  constructor(message: string, details: ErrorDetails = {}) {
    super('ERR_UNKNOWN_TOPIC', message, details)
  }
}

/**
 * An operating-system error (EIO, ENOSPC, ELOOP, …) as the StorageError the API promises, saying
 * what failed (`action`), with the original as `cause`; seglog's own errors and programmer errors
 * pass as they are.
 */
export function storageErrorOf(err: unknown, action: string): unknown {
  if (err instanceof SeglogError || !(err instanceof Error)) return err
  const errno = err as NodeJS.ErrnoException
  if (typeof errno.code !== 'string' || errno.syscall === undefined) return err
  const message = errno.code === 'ELOOP' ? `${action}: ${errno.path ?? 'a file'} is a symbolic link, which seglog does not follow` : `${action}: ${err.message}`
  return new StorageError(message, errno.path === undefined ? { cause: err } : { file: errno.path, cause: err })
}
