import { LatchkeyError } from './base.js';

/** A problem in an API module (src/resource-server/compile.ts), reported at start-up with the file it came from. */
export class ApiDefinitionError extends LatchkeyError {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super('ApiDefinitionError', `${file}: ${problem}`);
  }
}
