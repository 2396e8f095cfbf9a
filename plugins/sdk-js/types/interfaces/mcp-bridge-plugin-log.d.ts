declare module 'mcp-bridge:plugin/log@0.2.0' {
  /**
   * Writes one message, tagged with the plugin's name. Messages longer than 4 KiB are cut, and a plugin
   * that writes more than a few hundred messages a second has the excess dropped (with a count).
   */
  export function write(level: Level, message: string): void;
  /**
   * How much a message matters. The bridge shows `info` and above by default (`MCP_BRIDGE_LOG_LEVEL`).
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
