import type { RedisClient } from './redis';

/** A Lua script of packages/queue, with a name unique among them. */
export interface LuaScript {
  readonly name: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}

/** Runs a script: its keys first, then its arguments. Resolves with what the script returns. */
export type ScriptCommand = (...keysThenArgs: string[]) => Promise<unknown>;

/**
 * Defines `script` on the connection as a command (ioredis `defineCommand`, as BullMQ loads its own
 * scripts) and returns it. ioredis sends the body once per socket and EVALSHA after that, and sends it
 * again on NOSCRIPT (a restarted or failed-over server); on a Cluster connection the keys pick the
 * node, as for any command. Stores sharing a connection define the same script again harmlessly.
 */
export function defineScript(redis: RedisClient, script: LuaScript): ScriptCommand {
  const commands = redis as unknown as Record<string, ScriptCommand | undefined>;
  if (typeof commands[script.name] !== 'function') {
    redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  const command = commands[script.name] as ScriptCommand;
  return (...keysThenArgs) => command.apply(redis, keysThenArgs);
}
