// What a reader of another server's account data hands the import: one account
// as the source named it (not yet normalised), with what it had for a password.
import type { ScramRecords } from '../store/types.js';

export interface SourceAccount {
  /** user@host as the source spelled it. */
  user: string;
  host: string;
  /** Where it came from, for the report (file path, or file and host). */
  origin: string;
  /** SCRAM records, kept as they are. */
  scram?: ScramRecords;
  /** A plaintext password (Prosody's internal_plain, a XEP-0227 password attribute): hashed on import, never stored. */
  password?: string;
  /** The source had the account disabled: it stays disabled here. */
  disabled?: boolean;
}

/** A record the reader could not use, and why. */
export interface SourceProblem {
  origin: string;
  reason: string;
}

export interface SourceRead {
  accounts: SourceAccount[];
  problems: SourceProblem[];
}
