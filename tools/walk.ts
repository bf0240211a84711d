/**
 * Finding what `seglog verify` and `seglog recover` work on under the paths they are given:
 * partition folders (folders holding `<20-digit base offset>.log` files), standalone segment files
 * (any other `.log`, such as Kafka segments copied under another name), and symbolic links.
 *
 * The walk never follows a symbolic link: entries are classified with lstat semantics (the
 * `readdir` entry type, or `lstat` when the file system does not give one), and a link is returned
 * as such for the caller to report, so a link cannot make a command read, or repair, something
 * outside the tree it was pointed at, nor loop. Entries are visited in name order, so output is
 * stable from run to run.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parseSegmentName } from '../src/segment/index.js'
import { CliError, describeError } from './cli.js'

/** A folder holding segment files, with their base offsets in increasing order. */
export interface PartitionFolder {
  kind: 'partition'
  dir: string
  baseOffsets: number[]
  /** When a single segment file of the folder was named on the command line: only that one, by the path given. */
  only?: { baseOffset: number; file: string }
}

/** A `.log` file without a 20-digit name: checked alone, its base offset taken from its first batch. */
export interface StandaloneSegment {
  kind: 'standalone'
  file: string
}

export interface SymbolicLink {
  kind: 'symlink'
  path: string
}

export type Found = PartitionFolder | StandaloneSegment | SymbolicLink

/** What is at `p`, without following a link; throws CliError if it cannot be looked at. */
function lstatOf(p: string): fs.Stats {
  try {
    return fs.lstatSync(p)
  } catch (err) {
    throw new CliError(`cannot open '${p}': ${describeError(err)}`, { cause: err })
  }
}

function listFolder(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  } catch (err) {
    throw new CliError(`cannot list '${dir}': ${describeError(err)}`, { cause: err })
  }
}

type EntryType = 'file' | 'folder' | 'symlink' | 'other'

function typeOf(entry: fs.Dirent, file: string): EntryType {
  if (entry.isSymbolicLink()) return 'symlink'
  if (entry.isFile()) return 'file'
  if (entry.isDirectory()) return 'folder'
  // DT_UNKNOWN (some file systems): ask lstat, which does not follow links either.
  if (entry.isBlockDevice() || entry.isCharacterDevice() || entry.isFIFO() || entry.isSocket()) return 'other'
  const stat = lstatOf(file)
  return stat.isSymbolicLink() ? 'symlink' : stat.isFile() ? 'file' : stat.isDirectory() ? 'folder' : 'other'
}

/**
 * Walk `root` (a folder) depth-first, calling `found` for each partition folder, standalone
 * segment and symbolic link, in name order; a folder's own segments come before its sub-folders.
 * A folder that cannot be listed is passed to `failed` and the walk goes on with the rest.
 */
export function walkFolder(root: string, found: (item: Found) => void, failed: (err: CliError) => void): void {
  // An explicit stack rather than recursion: a deep tree cannot overflow the call stack.
  const stack: string[] = [root]
  while (stack.length > 0) {
    const dir = stack.pop() as string
    let entries: fs.Dirent[]
    try {
      entries = listFolder(dir)
    } catch (err) {
      if (!(err instanceof CliError)) throw err
      failed(err)
      continue
    }
    const baseOffsets: number[] = []
    const subfolders: string[] = []
    const rest: Found[] = []
    for (const entry of entries) {
      const file = path.join(dir, entry.name)
      let type: EntryType
      try {
        type = typeOf(entry, file)
      } catch (err) {
        if (!(err instanceof CliError)) throw err
        failed(err)
        continue
      }
      if (type === 'symlink') rest.push({ kind: 'symlink', path: file })
      else if (type === 'folder') subfolders.push(file)
      else if (type === 'file' && entry.name.endsWith('.log')) {
        const base = parseSegmentName(entry.name)
        if (base === undefined) rest.push({ kind: 'standalone', file })
        else baseOffsets.push(base)
      }
    }
    if (baseOffsets.length > 0) found({ kind: 'partition', dir, baseOffsets: baseOffsets.sort((a, b) => a - b) })
    for (const item of rest) found(item)
    // Pushed in reverse so that they are popped (visited) in name order.
    for (let i = subfolders.length - 1; i >= 0; i--) stack.push(subfolders[i] as string)
  }
}

/**
 * What a path named on the command line stands for: a folder to walk, a segment file, or a link.
 * A 20-digit `.log` file is placed in its partition folder (so that the command knows whether it
 * is the folder's last segment); any other `.log` file is standalone.
 *
 * @throws CliError if `p` does not exist or cannot be looked at, or is a file that is not a `.log`.
 */
export function classifyPath(p: string, command: string): { kind: 'folder'; dir: string } | Found {
  const stat = lstatOf(p)
  if (stat.isSymbolicLink()) return { kind: 'symlink', path: p }
  if (stat.isDirectory()) return { kind: 'folder', dir: p }
  if (!stat.isFile() || !p.endsWith('.log')) {
    throw new CliError(`cannot ${command} '${p}': expected a segment file (.log) or a folder`)
  }
  const base = parseSegmentName(path.basename(p))
  if (base === undefined) return { kind: 'standalone', file: p }
  const dir = path.dirname(p)
  const baseOffsets: number[] = []
  for (const entry of listFolder(dir)) {
    const other = parseSegmentName(entry.name)
    if (other !== undefined && (entry.isFile() || other === base)) baseOffsets.push(other)
  }
  return { kind: 'partition', dir, baseOffsets: baseOffsets.sort((a, b) => a - b), only: { baseOffset: base, file: p } }
}
