import type { Command } from 'commander';
import type { CliIo } from '../io';
import { registerDomain, registerPlacement, registerStatus } from './admin';
import { registerFailover } from './failover';
import { registerQueue } from './queue';
import { registerRender } from './render';
import { registerRun } from './run';
import { registerUp } from './up';
import { registerUser } from './user';
import { registerValidate } from './validate';

export type RegisterCommand = (program: Command, io: CliIo, setExit: (code: number) => void) => void;

/** Every subcommand, in the order `mailfleet help` lists them. */
export const commands: readonly RegisterCommand[] = [registerValidate, registerRender, registerRun, registerUp, registerStatus, registerDomain, registerUser, registerPlacement, registerQueue, registerFailover];
