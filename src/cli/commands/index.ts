import type { Command } from 'commander';
import type { IO } from '../context.js';

/** Registers the registry, token and diagnostics commands. */
export function registerCommands(_program: Command, _io: IO, _run: (p: Promise<number>) => void): void {
  // Filled in by the command modules.
}
