declare module 'mcp-bridge:plugin/types@0.2.0' {
  /**
   * A JSON text (an object, unless the field says otherwise).
   */
  export type Json = string;
  /**
   * Who a plugin is. Shown by `bridge plugin list`, and the name is how the bridge config file refers to it.
   */
  export interface Info {
    /**
     * Unique name, lower-case with dashes, e.g. `deny-github-writes`.
     */
    name: string,
    /**
     * The plugin's own version, e.g. `1.2.0`.
     */
    version: string,
    /**
     * One line saying what it does.
     */
    description: string,
  }
  /**
   * The MCP annotations a tool declares (all optional in MCP: `none` means the server did not say). They
   * come from the server, so they are claims: a policy should not trust a server's `read-only` more than
   * the user's own rules.
   */
  export interface ToolAnnotations {
    /**
     * `readOnlyHint`: the tool does not change its environment.
     */
    readOnly?: boolean,
    /**
     * `destructiveHint`: the tool may destroy or overwrite things.
     */
    destructive?: boolean,
    /**
     * `idempotentHint`: calling it twice with the same arguments does nothing more.
     */
    idempotent?: boolean,
    /**
     * `openWorldHint`: the tool reaches outside systems (the web, other services).
     */
    openWorld?: boolean,
  }
}
