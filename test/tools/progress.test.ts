/** When the CLI shows a progress bar: only where it helps and cannot garble the output. */
import { describe, expect, it } from 'vitest'
import { PROGRESS_MIN_BYTES, progressWanted, startProgress } from '../../tools/progress.js'

describe('progressWanted', () => {
  const big = PROGRESS_MIN_BYTES + 1
  it.each([
    // totalBytes, stderrIsTTY, stdoutIsTTY, outputToStdout, wanted
    [big, true, false, true, true], // dump > file: bar on the terminal
    [big, true, true, false, true], // verify on a terminal, results at the end
    [big, true, true, true, false], // dump on a terminal: lines would garble the bar
    [big, false, false, true, false], // stderr redirected (CI logs)
    [PROGRESS_MIN_BYTES, true, false, true, false], // small files finish before a bar helps
  ])('%d bytes, stderr TTY %s, stdout TTY %s, output to stdout %s → %s', (totalBytes, stderrIsTTY, stdoutIsTTY, outputToStdout, wanted) => {
    expect(progressWanted({ label: 'x', totalBytes, stderrIsTTY, stdoutIsTTY, outputToStdout })).toBe(wanted)
  })

  it('is a no-op, stop included, when not wanted', () => {
    const progress = startProgress({ label: 'x', totalBytes: 1, outputToStdout: true })
    progress.update(1)
    progress.stop()
    progress.stop()
  })
})
