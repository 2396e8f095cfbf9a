declare module 'mcp-bridge:plugin/discovery@0.2.0' {
  /**
   * The files to read, in precedence order: when two files define the same server name, the first wins.
   */
  export function wantedFiles(): Array<FilePattern>;
  /**
   * Parses one file into server entries, in the file's order. `err` says why the file is unusable; the
   * host then skips it with a warning naming it.
   */
  export function parse(file: SourceFile): Array<ServerEntry>;
  /**
   * Where a wanted file is looked for.
   * # Variants
   * 
   * ## `"home"`
   * 
   * The user's home directory.
   * ## `"cwd"`
   * 
   * The bridge's working directory (the project). Servers found here are used only once the user
   * trusts the project, and never in place of a server the user defined.
   * ## `"env-var"`
   * 
   * The path held by an environment variable; `pattern` is the variable's name.
   */
  export type Base = 'home' | 'cwd' | 'env-var';
  /**
   * A file the plugin wants to read.
   */
  export interface FilePattern {
    /**
     * Where `pattern` is relative to.
     */
    base: Base,
    /**
     * A relative path, `*` and `?` allowed within one path component (e.g. `MCPs/*.json`); for
     * `env-var`, the variable's name. Absolute paths and `..` are refused.
     */
    pattern: string,
  }
  /**
   * A file the host read for the plugin (read-only, size-capped).
   */
  export interface SourceFile {
    /**
     * Where it was found.
     */
    base: Base,
    /**
     * Its path relative to `base` (for `env-var`: the path the variable held).
     */
    path: string,
    /**
     * Its contents as UTF-8 text.
     */
    contents: string,
  }
  /**
   * One configured MCP server.
   */
  export interface ServerEntry {
    /**
     * The name the user gave it (the key in the config file).
     */
    name: string,
    /**
     * The program to start, for stdio servers.
     */
    command?: string,
    /**
     * Its arguments.
     */
    args: Array<string>,
    /**
     * Extra environment variables for it.
     */
    env: Array<[string, string]>,
    /**
     * The directory to start it in.
     */
    cwd?: string,
    /**
     * What the server is for (shown to the model by discovery helpers).
     */
    description?: string,
    /**
     * The endpoint, for HTTP servers.
     */
    url?: string,
    /**
     * `stdio`, `http` (streamable HTTP) or `sse`, when the file says.
     */
    transport?: string,
    /**
     * Disabled in its config file: listed but never started.
     */
    disabled: boolean,
  }
}
