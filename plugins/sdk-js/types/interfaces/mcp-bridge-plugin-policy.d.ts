/// <reference path="./mcp-bridge-plugin-types.d.ts" />
declare module 'mcp-bridge:plugin/policy@0.2.0' {
  /**
   * Whether a run may start (or a tool be saved or loaded, or search start a server: see `purpose`).
   */
  export function checkRun(run: RunRequest): Decision;
  /**
   * Whether a tool call may go through.
   */
  export function checkCall(call: CallRequest): Decision;
  /**
   * What of a tool's result may go back to the sandbox. Called for every result of a call this policy
   * allowed, errors included; return `allow` when there is nothing to do.
   */
  export function checkResult(outcome: CallResult): ResultDecision;
  export type Json = import('mcp-bridge:plugin/types@0.2.0').Json;
  export type ToolAnnotations = import('mcp-bridge:plugin/types@0.2.0').ToolAnnotations;
  /**
   * Why the host asks `check-run`.
   */
  export type RunPurpose = RunPurposeRun | RunPurposeSaveTool | RunPurposeLoadTool | RunPurposeSearch;
  /**
   * A `run_python` call is about to start a sandbox; `code` is the model's code.
   */
  export interface RunPurposeRun {
    tag: 'run',
  }
  /**
   * Code inside a run saves a tool under this name; `code` is the tool's source.
   */
  export interface RunPurposeSaveTool {
    tag: 'save-tool',
    val: string,
  }
  /**
   * Code inside a run loads the saved tool of this name; `code` is the tool's source.
   */
  export interface RunPurposeLoadTool {
    tag: 'load-tool',
    val: string,
  }
  /**
   * Tool search inside a run needs to start the one server in `servers` to list its tools; `code` is
   * the run's code. Search never asks the user, so only `allow` lets it start the server.
   */
  export interface RunPurposeSearch {
    tag: 'search',
  }
  /**
   * A request to run code, or to store or load code that will run later.
   */
  export interface RunRequest {
    /**
     * The run's id (also on its container).
     */
    runId: string,
    /**
     * The Python source: see `purpose`.
     */
    code: string,
    /**
     * The MCP servers requested for the run (configured names, not aliases).
     */
    servers: Array<string>,
    /**
     * The run's timeout in seconds.
     */
    timeoutSeconds: number,
    /**
     * What is being asked.
     */
    purpose: RunPurpose,
  }
  /**
   * A tool call made by code inside the sandbox, about to be sent to an MCP server.
   */
  export interface CallRequest {
    /**
     * The run the call comes from.
     */
    runId: string,
    /**
     * The server's name as configured (not its alias).
     */
    server: string,
    /**
     * The tool's name as the server lists it.
     */
    tool: string,
    /**
     * The arguments: a JSON object.
     */
    arguments: Json,
    /**
     * What the tool's definition says about it.
     */
    annotations: ToolAnnotations,
  }
  /**
   * What a tool returned, about to be handed back to the code in the sandbox.
   */
  export interface CallResult {
    /**
     * The call it answers (as `check-call` saw it).
     */
    call: CallRequest,
    /**
     * MCP's `CallToolResult` as JSON: `content` (a list of `{"type":"text","text":…}` and other items),
     * and when present `structuredContent` and `isError`.
     */
    result: Json,
  }
  /**
   * A policy's answer to `check-run` and `check-call`.
   */
  export type Decision = DecisionAllow | DecisionDeny | DecisionAsk;
  /**
   * No objection.
   */
  export interface DecisionAllow {
    tag: 'allow',
  }
  /**
   * Refuse; the text says why (the model sees it).
   */
  export interface DecisionDeny {
    tag: 'deny',
    val: string,
  }
  /**
   * Ask the user; the text is the question. Proceeds only if the user accepts. The bridge asks through
   * the MCP client; a client that cannot be asked (or `bridge run`) turns this into a deny.
   */
  export interface DecisionAsk {
    tag: 'ask',
    val: string,
  }
  /**
   * A policy's answer to `check-result`.
   */
  export type ResultDecision = ResultDecisionAllow | ResultDecisionDeny | ResultDecisionReplace;
  /**
   * Hand the result back unchanged.
   */
  export interface ResultDecisionAllow {
    tag: 'allow',
  }
  /**
   * Withhold the whole result; the code sees a failed call with this reason.
   */
  export interface ResultDecisionDeny {
    tag: 'deny',
    val: string,
  }
  /**
   * Hand this back instead: a `CallToolResult` JSON of the same shape (e.g. the result with secrets
   * masked). Policies after this one see the replacement. A replacement that is not a valid
   * `CallToolResult` counts as a deny.
   */
  export interface ResultDecisionReplace {
    tag: 'replace',
    val: Json,
  }
}
