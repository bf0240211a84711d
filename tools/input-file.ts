/**
 * Opening the files a CLI command reads, through the file-I/O module (so symlinks are refused as
 * the storage layers refuse them), with errors worded for the command line.
 */
import fs from 'node:fs'
import * as io from '../src/file-io.js'
import { CliError, describeError } from './cli.js'

export interface InputFile {
  /** The path as the user gave it, for messages. */
  path: string
  fd: number
  /** Size in bytes when opened; every loop over the file is bounded by it. */
  size: number
}

/** Open `file` read-only. Throws {@link CliError} ("cannot open 'x.log': ENOENT: …"). */
export function openInputFile(file: string): InputFile {
  let fd: number
  try {
    fd = io.open(file, fs.constants.O_RDONLY)
  } catch (err) {
    throw new CliError(`cannot open '${file}': ${describeError(err)}`, { cause: err })
  }
  try {
    // open(2) succeeds on a folder; reading it would fail later with a less clear EISDIR.
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw new CliError(`cannot read '${file}': not a regular file`)
    return { path: file, fd, size: stat.size }
  } catch (err) {
    io.close(fd)
    if (err instanceof CliError) throw err
    throw new CliError(`cannot read '${file}': ${describeError(err)}`, { cause: err })
  }
}

export function closeInputFile(input: InputFile): void {
  io.close(input.fd)
}

/** Read exactly `length` bytes at `position`, or fewer at the end of the file. */
export function readAt(input: InputFile, buffer: Buffer, length: number, position: number): number {
  try {
    return io.preadFully(input.fd, buffer, 0, length, position)
  } catch (err) {
    throw new CliError(`cannot read '${input.path}' at position ${position}: ${describeError(err)}`, { cause: err })
  }
}
