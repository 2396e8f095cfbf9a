/// <reference path="./mcp-bridge-plugin-types.d.ts" />
declare module 'mcp-bridge:plugin/plugin@0.2.0' {
  /**
   * The plugin's name, version and description. Called once, at load.
   */
  export function metadata(): Info;
  /**
   * Applies the plugin's configuration: the `config` table of this plugin in the bridge config file, as a
   * JSON object (`{}` when there is none). Called once, after `metadata` and before any other call.
   * Return `err` with a message saying what is wrong; the plugin is then reported as failed and not used
   * (and a policy that fails here keeps runs from starting, unless the user marked it optional).
   */
  export function configure(config: Json): void;
  export type Info = import('mcp-bridge:plugin/types@0.2.0').Info;
  export type Json = import('mcp-bridge:plugin/types@0.2.0').Json;
}
