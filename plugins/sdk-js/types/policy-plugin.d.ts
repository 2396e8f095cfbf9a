/// <reference path="./interfaces/mcp-bridge-plugin-log.d.ts" />
/// <reference path="./interfaces/mcp-bridge-plugin-plugin.d.ts" />
/// <reference path="./interfaces/mcp-bridge-plugin-policy.d.ts" />
/// <reference path="./interfaces/mcp-bridge-plugin-types.d.ts" />
declare module 'mcp-bridge:plugin/policy-plugin@0.2.0' {
  export type * as McpBridgePluginLog020 from 'mcp-bridge:plugin/log@0.2.0'; // import mcp-bridge:plugin/log@0.2.0
  export type * as McpBridgePluginTypes020 from 'mcp-bridge:plugin/types@0.2.0'; // import mcp-bridge:plugin/types@0.2.0
  export * as plugin from 'mcp-bridge:plugin/plugin@0.2.0'; // export mcp-bridge:plugin/plugin@0.2.0
  export * as policy from 'mcp-bridge:plugin/policy@0.2.0'; // export mcp-bridge:plugin/policy@0.2.0
}
