"""Functions saved with ``runtime.save_tool()``, loaded on demand: ``from mcp.user_tools import name``.

Importing this module (or its older name, ``import user_tools``) loads nothing. Asking for a name — ``from
mcp.user_tools import double`` or ``user_tools.double`` — asks the host for that saved tool (its source goes
through the user's policies and into the audit log), runs it in a module of its own and returns its function,
cached for the rest of the run. ``dir()`` lists what is saved. ``from mcp.user_tools import *`` raises
``ImportError``: a saved tool's code runs only when it is named.

Errors: a tool that is not saved, fails while loading (whatever it raises, ``SystemExit`` included) or does
not define its function raises ``ImportError`` naming it; a policy refusal raises ``runtime.PolicyDenied``.
"""

# Only dunders here: every other name of this module's namespace is a saved tool (see mcp._saved_tools).
from ._saved_tools import module_hooks as __module_hooks__

__getattr__, __dir__, __all__ = __module_hooks__(globals())
del __module_hooks__
