/**
 * A progress bar on stderr for the CLI's long passes over files (dump, verify, recover).
 *
 * Shown only when it helps and cannot get in the way: stderr is a terminal, the work is large
 * ({@link PROGRESS_MIN_BYTES}), and the command's own output is not going to that same terminal
 * (lines printed under a redrawn bar would garble both). Otherwise every call is a no-op, so
 * callers never test for it.
 *
 * @example
 * ```ts
 * const progress = startProgress({ label: file, totalBytes: size, outputToStdout: true })
 * try { for (const step of steps) progress.update(step.position) } finally { progress.stop() }
 * ```
 */
import cliProgress from 'cli-progress'

/** Files smaller than this are done before a bar would be worth reading. */
export const PROGRESS_MIN_BYTES = 64 * 1024 * 1024
/** Redraw at most once per this many bytes of progress, so a per-batch update costs a comparison. */
const UPDATE_STEP_BYTES = 1024 * 1024

export interface Progress {
  /** `doneBytes` of `totalBytes` are done. */
  update(doneBytes: number): void
  /** Remove the bar (idempotent). Call before printing anything else to stderr. */
  stop(): void
}

export interface ProgressOptions {
  label: string
  totalBytes: number
  /** Whether the command writes its results to stdout while the bar runs. */
  outputToStdout: boolean
  /** Defaults, for tests: `process.stderr.isTTY`, `process.stdout.isTTY`. */
  stderrIsTTY?: boolean
  stdoutIsTTY?: boolean
}

/** The decision alone, kept pure so that it can be tested without a terminal. */
export function progressWanted(options: ProgressOptions): boolean {
  const stderrIsTTY = options.stderrIsTTY ?? process.stderr.isTTY === true
  const stdoutIsTTY = options.stdoutIsTTY ?? process.stdout.isTTY === true
  return stderrIsTTY && options.totalBytes > PROGRESS_MIN_BYTES && !(options.outputToStdout && stdoutIsTTY)
}

const NO_PROGRESS: Progress = { update() {}, stop() {} }

export function startProgress(options: ProgressOptions): Progress {
  if (!progressWanted(options)) return NO_PROGRESS
  const total = options.totalBytes
  const bar = new cliProgress.SingleBar(
    {
      format: `${options.label} [{bar}] {percentage}% | {done} / {size} | ETA {eta_formatted}`,
      stream: process.stderr,
      clearOnComplete: true,
      hideCursor: null,
    },
    cliProgress.Presets.shades_classic,
  )
  const size = formatMiB(total)
  bar.start(total, 0, { done: formatMiB(0), size })
  let shown = 0
  let stopped = false
  return {
    update(doneBytes: number): void {
      if (stopped || doneBytes - shown < UPDATE_STEP_BYTES) return
      shown = doneBytes
      bar.update(doneBytes, { done: formatMiB(doneBytes), size })
    },
    stop(): void {
      if (stopped) return
      stopped = true
      bar.stop()
    },
  }
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(0)} MiB`
}
