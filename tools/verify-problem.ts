/**
 * The problems `seglog verify` reports: one kind per rule, so that scripts (and tests) can tell
 * them apart, and a message saying what was found and what recovery will do about it.
 *
 * | kind              | where                     | rule broken                                                        |
 * |-------------------|---------------------------|--------------------------------------------------------------------|
 * | symlink           | any path walked           | seglog never follows a symbolic link (open refuses them); not checked |
 * | corrupt           | `.log`                    | bytes that are not a valid batch (bounds, magic, CRC-32C) with valid batches after them, or anywhere in a sealed segment |
 * | torn-tail         | last `.log` of a partition | invalid bytes at the end of the log that open / `seglog recover` will cut |
 * | bad-record        | `.log`                    | a batch whose records do not decode, or whose record offsets are outside the batch or not increasing |
 * | unsupported-codec | `.log`                    | a batch compressed with snappy, lz4 or zstd: valid, but its records cannot be checked |
 * | offset-gap        | `.log`                    | offsets skip ahead (between batches or segments); records are missing, e.g. dropped by repair |
 * | offset-overlap    | `.log`                    | offsets go backwards, or a batch starts below its segment's base offset |
 * | leader-epoch      | `.log`                    | partitionLeaderEpoch below -1 or decreasing; the CRC does not cover it, so this is how damage to it shows |
 * | index             | `.index`, `.timeindex`    | an entry out of order, not pointing at a batch boundary, or disagreeing with the batch it names |
 * | index-untrimmed   | `.index`, `.timeindex`    | a sealed segment's index still has its preallocated zero-filled tail |
 */

export const PROBLEM_KINDS = [
  'symlink',
  'corrupt',
  'torn-tail',
  'bad-record',
  'unsupported-codec',
  'offset-gap',
  'offset-overlap',
  'leader-epoch',
  'index',
  'index-untrimmed',
] as const
export type ProblemKind = (typeof PROBLEM_KINDS)[number]

export interface Problem {
  /** The file (or link) as reached from the paths given on the command line. */
  file: string
  /** Byte position in `file` where the problem is (0 for a whole-file problem). */
  position: number
  kind: ProblemKind
  message: string
}

/** Receives each problem as it is found. Synchronous: the caller drains the output between batches. */
export type ReportProblem = (problem: Problem) => void

/** Counts of what was checked, for the summary line. */
export interface Checked {
  /** Segment and index files read. */
  files: number
  batches: number
  records: number
  /** Bytes of `.log` files checked (not counting a running writer's unchecked tail). */
  bytes: number
}

/** `FILE: position P: KIND: message`, the text form of a problem. */
export function problemLine(problem: Problem): string {
  return `${problem.file}: position ${problem.position}: ${problem.kind}: ${problem.message}`
}
