import { CodedError } from './base.js';

/** A setting, file or database location the instance cannot start with; `code` is the config reason (config.*). */
export class ConfigError extends CodedError<string> {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super('ConfigError', code, message, options);
  }
}
