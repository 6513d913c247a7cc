import { InvalidArgumentError } from "commander";

/** commander argument parser for integer options, with an error that names the bad value. */
export function intOption(value: string): number {
  if (!/^-?\d+$/.test(value.trim()))
    throw new InvalidArgumentError(`expected an integer, got ${JSON.stringify(value)}`);
  return Number.parseInt(value, 10);
}
