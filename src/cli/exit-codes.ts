/** Exit codes of the podcap command; scripts rely on them (README: "Exit codes"). */
export const EXIT = {
  OK: 0,
  /** Bad usage, a bad filter, or an unexpected failure. */
  ERROR: 1,
  /** Input that is not a capture (empty, text, unknown format) or cannot be read: nothing was imported. */
  BAD_INPUT: 2,
  /** Imported, but some input was damaged or cut short: the report says how many packets. */
  PARTIAL: 3,
  /** The snapshot or transaction asked for does not exist. */
  NOT_FOUND: 4,
} as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
