declare module 'mcp-bridge:plugin/encoder@0.2.0' {
  /**
   * Renders a payload. Returning `err` makes the bridge fall back to plain JSON, with a note naming this
   * encoder.
   */
  export function encode(payload: Payload): Encoded;
  /**
   * How a run ended.
   * # Variants
   * 
   * ## `"success"`
   * 
   * The code ran and exited 0.
   * ## `"error"`
   * 
   * It raised, exited non-zero, hit a limit, was refused by a policy, or the sandbox failed.
   * ## `"timeout"`
   * 
   * The deadline passed; the container was killed.
   * ## `"validation-error"`
   * 
   * The arguments were refused before anything ran.
   */
  export type Status = 'success' | 'error' | 'timeout' | 'validation-error';
  /**
   * The structured result of one run: the `structuredContent` of the MCP result. As JSON (which the
   * `json` and `toon` encoders render) it has the keys `status`, `summary`, `exitCode`, `servers`,
   * `stdout`, `stderr`, `error` and `timeoutSeconds`, in that order, each left out when empty except
   * `summary`, which is always there (the run's output schema requires it).
   */
  export interface Payload {
    /**
     * How it ended.
     */
    status: Status,
    /**
     * One line saying what happened.
     */
    summary: string,
    /**
     * The code's exit status, when it got to exit.
     */
    exitCode?: bigint,
    /**
     * The MCP servers requested for the run.
     */
    servers: Array<string>,
    /**
     * stdout as lines (blank and `()` lines dropped).
     */
    stdout: Array<string>,
    /**
     * stderr as lines, same filtering.
     */
    stderr: Array<string>,
    /**
     * What went wrong, when something did.
     */
    error?: string,
    /**
     * The deadline that was hit, for timeouts.
     */
    timeoutSeconds?: bigint,
  }
  /**
   * Encoded text and its media type.
   */
  export interface Encoded {
    /**
     * The text content of the MCP result.
     */
    text: string,
    /**
     * Its media type, e.g. `text/plain` or `text/markdown`.
     */
    mimeType: string,
  }
}
