"""Tool proxies: each loaded server as ``mcp_<alias>`` / ``mcp_servers[name]`` and ``mcp.servers.<alias>``.

Every tool becomes an ``async`` function with a real signature and docstring built from its input schema:
positional arguments map in schema order (required first), arguments are checked against the schema before
anything is sent (a clear ``TypeError``), and the result is a :class:`mcp.runtime.ToolResult`.
"""

import sys

from . import runtime

# types.ModuleType, without importing types into every container at boot.
_ModuleType = type(sys)

_JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
    "null": (type(None),),
}


def _is_identifier(name):
    # Imported on first use: a run whose servers give no tools never reads keyword's file.
    import keyword

    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def _type_names(spec):
    kind = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [k for k in kind if isinstance(k, str)]
    return []


def _matches(value, names):
    for name in names:
        accepted = _JSON_TYPES.get(name)
        if accepted is None:
            return True  # a type this checker does not know: leave it to the server
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if name == "integer" and isinstance(value, float) and value.is_integer():
            return True
        if isinstance(value, accepted):
            return True
    return False


def _describe_type(spec):
    names = _type_names(spec)
    return " or ".join(names) if names else "any"


def _docstring(tool, server_name):
    description = (tool.get("description") or "").strip() or f"MCP tool {tool['name']} from {server_name}"
    schema = tool.get("input_schema") or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    if not properties:
        return description
    lines = [description, "", "Args:"]
    for name, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        flag = "required" if name in required else "optional"
        text = (spec.get("description") or "").strip()
        lines.append(f"    {name} ({_describe_type(spec)}, {flag}){': ' + text if text else ''}")
    return "\n".join(lines)


def _signature(schema):
    """(signature, the schema's properties, required names, the name of the ``**`` parameter or None)."""
    # inspect (and difflib below) are imported when first needed: runs without MCP servers skip their
    # few milliseconds of import time.
    import inspect

    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [name for name in (schema.get("required") or []) if name in properties]
    extra = schema.get("additionalProperties")
    accepts_extra = extra is True or isinstance(extra, dict)
    ordered = required + [name for name in properties if name not in required]
    parameters = []
    for name in ordered:
        if not _is_identifier(name):
            # Not a Python name: reachable only through **arguments.
            accepts_extra = True
            continue
        spec = properties[name] if isinstance(properties[name], dict) else {}
        default = inspect.Parameter.empty if name in required else spec.get("default")
        parameters.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default))
    var_keyword = None
    if accepts_extra:
        # `**arguments`, unless the schema has a parameter of that name.
        var_keyword = "arguments" if "arguments" not in properties else "_arguments"
        parameters.append(inspect.Parameter(var_keyword, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters), properties, set(required), var_keyword


def _check(label, schema, arguments):
    properties, required = schema
    for name in required:
        if name not in arguments:
            raise TypeError(f"{label}() missing required argument: {name!r}")
    for name, value in arguments.items():
        spec = properties.get(name)
        if not isinstance(spec, dict):
            continue
        names = _type_names(spec)
        if names and not _matches(value, names):
            raise TypeError(
                f"{label}() argument {name!r} must be {' or '.join(names)}, not {type(value).__name__}"
            )
        if "enum" in spec and isinstance(spec["enum"], list) and value not in spec["enum"]:
            raise TypeError(f"{label}() argument {name!r} must be one of {spec['enum']!r}, not {value!r}")


def make_tool(server, tool):
    """The async function for one tool of a loaded server (metadata as sent by the host)."""
    server_name = server["name"]
    tool_name = tool["name"]
    alias = tool["alias"]
    label = f"mcp_{server['alias']}.{alias}"
    schema = tool.get("input_schema") if isinstance(tool.get("input_schema"), dict) else {}
    signature, properties, required, var_keyword = _signature(schema)
    declared = [name for name in signature.parameters if name != var_keyword]

    async def tool_function(*args, **kwargs):
        unknown = [name for name in kwargs if name not in declared]
        if unknown and var_keyword is None:
            import difflib

            close = difflib.get_close_matches(unknown[0], declared, n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; its parameters: {', '.join(declared) or 'none'}"
            )
            raise TypeError(f"{label}() got an unexpected keyword argument {unknown[0]!r}{hint}")
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{label}(): {exc}") from None
        arguments = {}
        for name, value in bound.arguments.items():
            if name == var_keyword:
                arguments.update(value)
            elif value is None and name not in required:
                continue  # an optional argument left at None is not sent
            else:
                arguments[name] = value
        _check(label, (properties, required), arguments)
        return await runtime.call_tool(server_name, tool_name, arguments)

    tool_function.__name__ = alias
    tool_function.__qualname__ = label
    tool_function.__module__ = f"mcp.servers.{server['alias']}"
    tool_function.__doc__ = _docstring(tool, server_name)
    tool_function.__signature__ = signature
    tool_function.tool_name = tool_name
    tool_function.server_name = server_name
    return tool_function


class ServerProxy:
    """A loaded server: its tools as attributes (by Python alias, or by exact tool name)."""

    def __init__(self, server):
        self._server = server
        self._tools = {}
        self._by_name = {}
        for tool in server.get("tools") or []:
            function = make_tool(server, tool)
            self._tools[tool["alias"]] = function
            self._by_name[tool["name"]] = function

    @property
    def name(self):
        """The server's configured name."""
        return self._server["name"]

    @property
    def tools(self):
        """Tool functions by Python alias."""
        return dict(self._tools)

    async def list_tools(self):
        """The server's current tool list, as the server reports it."""
        return await runtime.list_tools(self._server["name"])

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        function = self._tools.get(attribute) or self._by_name.get(attribute)
        if function is not None:
            return function
        import difflib

        close = difflib.get_close_matches(attribute, list(self._tools), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise AttributeError(
            f"MCP server {self._server['name']!r} has no tool {attribute!r}{hint} "
            f"(its tools: {', '.join(sorted(self._tools)) or 'none'})"
        )

    def __getitem__(self, tool_name):
        return self.__getattr__(tool_name)

    def __dir__(self):
        return sorted(set(self._tools) | {"list_tools", "name", "tools"})

    def __repr__(self):
        return f"<MCP server {self._server['name']!r}: {len(self._tools)} tools>"


def install(loaded, namespace):
    """Create proxies and ``mcp.servers.<alias>`` modules for ``loaded``; fill the user's namespace."""
    servers_package = sys.modules["mcp.servers"]
    proxies = {}
    aliases = []
    for server in loaded:
        proxy = ServerProxy(server)
        proxies[server["name"]] = proxy
        alias = server["alias"]
        aliases.append(alias)
        module = _ModuleType(f"mcp.servers.{alias}", f"MCP server {server['name']!r} wrappers")
        module.__all__ = list(proxy.tools)
        module.TOOLS = list(server.get("tools") or [])
        module.TOOL_MAP = {tool["alias"]: tool for tool in module.TOOLS}
        for tool_alias, function in proxy.tools.items():
            setattr(module, tool_alias, function)
        sys.modules[module.__name__] = module
        setattr(servers_package, alias, module)
        namespace[f"mcp_{alias}"] = proxy
    servers_package.__all__ = aliases
    namespace["mcp_servers"] = proxies
    namespace["LOADED_MCP_SERVERS"] = tuple(server["name"] for server in loaded)
    return proxies
