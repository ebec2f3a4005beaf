let guarded = false;

/**
 * Writes to stdout. A reader that goes away (`encage doctor | head`) ends the output, not the
 * program. process.stdout is touched on first use only: setting it up costs a run that prints
 * nothing about 5 ms when stdout is a pipe.
 */
export function writeOut(text: string): void {
  if (!guarded) {
    guarded = true;
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  process.stdout.write(text);
}
